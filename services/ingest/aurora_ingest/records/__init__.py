"""Normalised records from every source, and the events that announce them."""
