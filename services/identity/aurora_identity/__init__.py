"""Aurora identity service."""
