"""Logging: JSON or text lines, the running job's fields, secrets masked."""
