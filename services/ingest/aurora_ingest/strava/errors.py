"""Errors of the Strava package."""

from __future__ import annotations


class MappingError(ValueError):
    """A Strava payload that cannot be turned into a record as a whole.

    Raised instead of storing a half-right record; the message says which part
    was wrong and never echoes more than a single offending value.
    """
