"""The `aurora` command: composition root over the four services."""
