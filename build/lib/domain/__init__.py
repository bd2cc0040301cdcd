"""The worker's domain: plain Python, standard library only.

Entities, statuses and their transitions, the error taxonomy, the ports the
handlers need (as Protocols) and the handlers themselves. Nothing here knows
about SQS, Redis, SQLAlchemy, Dramatiq or pydantic.
"""
