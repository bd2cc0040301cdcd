"""Dramatiq middleware that is not tied to one broker."""
