"""Strava: webhook events, API client, mapping to records, and the sync jobs."""
