"""Aurora analytics service."""
