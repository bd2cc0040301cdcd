"""Helpers that start and reach the real services the tests use."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


class MotoServer:
    """moto's SQS/S3 server in its own process, on 127.0.0.1 and a free port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self.process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **AWS_ENV},
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb in a temporary folder, a free port), for tests that stop it.

    The machine's cluster on 5432 is shared by every other program; a test that
    takes the database away takes away only this one. ``initdb`` and ``pg_ctl``
    refuse to run as root, so as root they run as the ``postgres`` user, in a
    folder that user owns.
    """

    def __init__(self) -> None:
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("as root, a private PostgreSQL cluster runs as the `postgres` user, and there is "
                                   "none: apt-get install postgresql creates it") from None
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="media-worker-pg-"))
        self.data = self.folder / "data"
        self._as_owner: list[str] = []
        if owner is not None:
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def create(self) -> PrivatePostgres:
        """initdb (trust auth for local connections, no fsync: it holds test data only), then start."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self.start()

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        """A fast shutdown of this private cluster (its own data folder and port): clients see their
        connections end, as in an outage; the machine's shared cluster is never touched."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop the cluster if it runs, and delete its folder."""
        if (self.data / "postmaster.pid").exists():  # a stale file after a crash: pg_ctl says so, and that is fine
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        subprocess.run([*self._as_owner, str(_postgres_bin(program)), *args], check=check, timeout=120,
                       cwd=self.folder, stdout=subprocess.DEVNULL)


def _postgres_bin(program: str) -> Path:
    """``program`` of the newest PostgreSQL installed (Debian keeps the server's tools off PATH)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"), key=_version)
    if found:
        return Path(found[-1])
    on_path = shutil.which(program)
    if on_path is None:
        raise FileNotFoundError(f"{program} (the PostgreSQL server) is not installed: apt-get install postgresql")
    return Path(on_path)


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in Path(path).parts[4].split(".") if part.isdigit())


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def fresh_tables(extra_kind_modules: tuple[str, ...] = ()):
    """The job tables of every kind (the contract's and those of ``extra_kind_modules``) under unique names."""
    from kinds import load_kinds, tables

    job_kinds = load_kinds(extra_kind_modules)
    return tables(job_kinds, {name: unique(f"{declaration.table_name.default}_") for name, declaration in job_kinds.items()})
