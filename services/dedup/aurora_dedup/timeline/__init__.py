"""The user's resolved timeline: source records in, canonical workouts out."""
