"""ServedPrometheus: Dramatiq's Prometheus middleware with our exposition process.

Import it only through ``exposition.prometheus_middleware``: Dramatiq's
module reads its environment variables when imported.
"""

from __future__ import annotations

from collections.abc import Callable

from dramatiq.middleware.prometheus import Prometheus


class ServedPrometheus(Prometheus):
    """Dramatiq's metrics (dramatiq_messages_total, ...), unchanged; only the
    process the ``dramatiq`` command forks to serve them is ours.

    Parameters:
      fork: a module-level function the command runs in its forked process;
        it must set the settings' host and port before running Dramatiq's
        server (``exposition.serve``), since that process starts from the
        command's main process, not from a worker.
    """

    def __init__(self, fork: Callable[[], int]) -> None:
        super().__init__()
        self.fork = fork

    @property
    def forks(self) -> list[Callable[[], int]]:
        return [self.fork]
