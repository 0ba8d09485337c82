"""GDPR rights of the account holder: erasure (soft delete, then purge) and export."""
