"""Adapters: one folder per outside system, each implementing domain ports."""
