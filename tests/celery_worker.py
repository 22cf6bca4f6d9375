"""A real `celery -A tasks worker` subprocess for tests, stopped (TERM, then KILL) on exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def running_worker(redis_url: str, database_url: str, hostname: str) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--without-mingle", "--without-gossip", "--hostname", hostname],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield worker
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)


def output_tail(worker: subprocess.Popen, chars: int = 2000) -> str:
    """The end of a stopped worker's output (for a failure message)."""
    return worker.stdout.read().decode(errors="replace")[-chars:] if worker.poll() is not None else "(still running)"
