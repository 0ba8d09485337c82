"""Per-account sign-in throttling, kept in PostgreSQL so a Redis restart cannot reset it."""
