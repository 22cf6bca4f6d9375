"""A real `celery -A tasks worker` subprocess for tests, stopped (TERM, then KILL) on exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def _celery(arguments: list[str], redis_url: str, database_url: str, settings: dict[str, str],
            stop_seconds: float) -> Iterator[subprocess.Popen]:
    """`celery -A tasks <arguments>` in its own process group, stopped (TERM, then KILL) on exit."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1",
           "WARM_UP_AT_WORKER_START": "false", "SECRET_KEY": "test-secret-key-not-for-production", **settings}
    # Output to a file, not a pipe: a pipe nobody reads fills up (64 KB of INFO lines, a few hundred
    # tasks) and the worker then blocks on its next log line. Appended, so reading it moves nothing.
    handle, name = tempfile.mkstemp(prefix="celery-", suffix=".log")
    os.close(handle)
    log_path = Path(name)
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "tasks", *arguments], cwd=PROJECT_ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = log_path
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(stop_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        log_path.unlink(missing_ok=True)


def running_worker(redis_url: str, database_url: str, hostname: str, **settings: str):
    """A solo-pool worker; ``settings``: more environment (e.g. WARM_UP_AT_WORKER_START="true"; off unless given)."""
    return _celery(["worker", "--pool", "solo", "--loglevel", "INFO", "--without-mingle", "--without-gossip",
                    "--hostname", hostname], redis_url, database_url, settings, 20)


def running_cache_worker(redis_url: str, database_url: str, hostname: str, **settings: str):
    """The cache queue's worker as ``tradeboard run`` starts it (app.cli.cache_worker_argv)."""
    from app.cli import cache_worker_argv

    arguments = cache_worker_argv(sys.executable, hostname)[len([sys.executable, "-m", "celery", "-A", "tasks"]):]
    return _celery([*arguments, "--without-mingle", "--without-gossip"], redis_url, database_url, settings, 20)


def running_beat(redis_url: str, database_url: str, schedule_file: Path, **settings: str):
    """Beat with its schedule file in a temporary folder."""
    return _celery(["beat", "--loglevel", "INFO", "--schedule", str(schedule_file)], redis_url, database_url, settings,
                   10)


def output_tail(worker: subprocess.Popen, chars: int = 2000) -> str:
    """The end of a worker's output so far (for a failure message)."""
    try:
        return worker.log_path.read_bytes().decode(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(its log is gone: the worker was stopped)"


def result_or_worker_output(result, worker: subprocess.Popen, timeout: float, failure: str):
    """``result.get(timeout)``; on failure (the task raised or never came back) the worker is
    stopped and the test fails with ``failure`` and the end of the worker's output."""
    try:
        return result.get(timeout=timeout)
    except Exception:
        worker.terminate()
        raise AssertionError(f"{failure}; worker said: {output_tail(worker)}") from None
