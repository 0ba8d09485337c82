"""Garmin FIT: a strict, fast decoder and the mapping of activity files to workouts."""
