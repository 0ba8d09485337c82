"""Uploaded activity files (a FIT file or a zip of them): stored, queued, imported file by file."""
