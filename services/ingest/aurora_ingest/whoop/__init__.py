"""WHOOP (API v2): signed webhooks, payload mapping, the API client and the sync jobs."""
