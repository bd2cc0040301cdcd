"""The composition root: builds the adapters, handlers and broker from settings and the job kinds.

Everything that reads settings or opens a connection is built here, once per
process and lazily, so tests can build their own with other settings or
clients (or hand fakes to the handlers directly):

- ``infrastructure``: the clients of the database, Redis, SQS and S3 and the
  kinds of job, shared by the worker and the ops tools (``ops.service.Ops``);
- ``container``: the worker's adapters, handlers and actor options;
- ``broker``: the broker BROKER names with the middleware chain;
- ``metrics``: Prometheus middleware and the exposition process.
"""

from bootstrap.broker import build_broker
from bootstrap.container import Container
from bootstrap.infrastructure import OPS_CLIENTS, WORKER_CLIENTS, Infrastructure, load_job_kinds

__all__ = ["OPS_CLIENTS", "WORKER_CLIENTS", "Container", "Infrastructure", "build_broker", "load_job_kinds"]
