"""Workouts an athlete types in by hand."""
