"""Prometheus metrics of the worker, served by Dramatiq's exposition server."""
