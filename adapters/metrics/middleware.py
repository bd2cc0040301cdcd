"""JobMetrics: the media_worker_* metrics of every message a worker process runs."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from time import monotonic

import dramatiq
from dramatiq.middleware import Middleware

from adapters.metrics.prometheus import Metrics
from adapters.worker.context import current_job
from adapters.worker.labels import BUSY, JOB_LABELS, REJECTED, identify, job_outcome
from adapters.worker.options import actor_option
from adapters.worker.reasons import dead_letter_reason
from adapters.worker.waits import queue_wait

log = logging.getLogger(__name__)


class JobMetrics(Middleware):
    """Counts runs by outcome, times them, counts lock contention and (where
    a nack is the dead letter) dead letters.

    Put it right after JobTracking, before the retry middleware: its
    ``after_process_message`` then runs once the retry middleware has decided
    whether the message failed, and the job context is still set.

    Parameters:
      metrics: what to record into; started in ``after_process_boot``.
      multiproc_dir: prometheus_client's multiprocess directory, the one
        Dramatiq's exposition server reads.
      count_nacks: count every nack as a dead letter (Redis and stub brokers);
        on SQS DeadLetterQueue.send counts them, as a nack there may keep the
        message instead (an outage while failing its row).
    """

    def __init__(self, metrics: Metrics, *, multiproc_dir: str, count_nacks: bool) -> None:
        self.metrics = metrics
        self.multiproc_dir = multiproc_dir
        self.count_nacks = count_nacks

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        # Set before prometheus_client is first imported: it picks its mode then.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = self.multiproc_dir
        remove_dead_files(Path(self.multiproc_dir))
        self.metrics.start()

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        waited = queue_wait(message)
        if waited is not None:
            self.metrics.queue_wait(message.queue_name, waited)

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy, *, result=None, exception=None
    ) -> None:
        job = current_job()
        job_type = job.job_type if job is not None else _job_type(broker, message)
        outcome = job_outcome(message, job.outcome if job is not None else None, exception)
        seconds = None if job is None else max(0.0, monotonic() - job.started)
        self.metrics.job(job_type, outcome, seconds)
        if outcome == BUSY:
            self.metrics.lock_busy(job_type)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        self.metrics.job(_job_type(broker, message), REJECTED, None)

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        if self.count_nacks:
            self.metrics.dead_letter(message.queue_name, dead_letter_reason(message).category)


def _job_type(broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> str:
    return identify(message, actor_option(broker, message, JOB_LABELS)).job_type


def remove_dead_files(directory: Path) -> None:
    """Delete the multiprocess files of processes that no longer run.

    They are an earlier run's (Dramatiq stops every process when one dies), and
    the exposition server would otherwise keep adding them to this run's values.
    """
    for path in directory.glob("*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
