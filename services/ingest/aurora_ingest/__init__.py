"""Aurora ingest service."""
