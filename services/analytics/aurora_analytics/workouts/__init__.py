"""Analytics' own copy of the resolved workouts, fed by dedup's timeline events."""
