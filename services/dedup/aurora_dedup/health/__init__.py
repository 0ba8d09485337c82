"""Health: sleep, recovery and daily records, one elected view per user and local day."""
