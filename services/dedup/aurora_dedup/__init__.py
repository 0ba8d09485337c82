"""Aurora dedup service."""
