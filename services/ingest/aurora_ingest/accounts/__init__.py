"""What ingest does with identity's decisions: blocked and erased users, exports."""
