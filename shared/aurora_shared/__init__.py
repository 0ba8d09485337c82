"""Aurora shared kit: only what two or more services need."""
