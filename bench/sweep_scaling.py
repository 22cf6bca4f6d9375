"""One sweep on 1 and then on 2 Celery workers (solo pool, one process each), timed from queueing
to the last member stored: more workers finish a sweep proportionally faster (a benchmark, not a
test). On this 2-core machine two workers can at best halve the time.

    python bench/sweep_scaling.py [--database-url URL] [--workers 1 2] [--fast-values 40]

Without ``--database-url`` a SQLite file in a temporary folder (whose single writer caps the
speed-up); with a PostgreSQL URL (an empty database), the deployment's database. Each run is a
fresh sweep over the same members, so both counts do the same work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tasks  # noqa: E402
from app.config import Settings  # noqa: E402
from app.services import PrivateRedis  # noqa: E402
from data_access import sweeps  # noqa: E402
from data_access.cache import sections  # noqa: E402
from data_access.db import configure_database  # noqa: E402
from data_access.migrate import is_empty, upgrade  # noqa: E402
from data_access.seed import seed  # noqa: E402
from tasks.backtests import start_sweep  # noqa: E402

TARGET_SPEEDUP = 1.6  # two workers on two cores, against one


def request(fast_values: int) -> dict:
    return {"strategy": "sma_cross", "symbols": ["SPY", "QQQ"],
            "params": {"fast": list(range(2, 2 + fast_values)), "slow": [60, 80, 100, 120, 150]}}


def ready_workers(expected: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = tasks.celery_app.control.ping(timeout=0.5) or []
        if len(replies) >= expected:
            return
    raise SystemExit(f"only {len(replies)} of {expected} workers answered within {timeout:.0f} s")


def start_worker(redis_url: str, database_url: str, log: Path) -> subprocess.Popen:
    """`celery -A tasks worker --pool solo`, its output into ``log`` (a pipe nobody reads would fill
    up and stop the worker mid-sweep)."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url, "SECRET_KEY": "bench-secret-key",
           "WARM_UP_AT_WORKER_START": "false"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "solo",
                                 "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
                                 "--hostname", f"bench-{uuid.uuid4().hex[:8]}@localhost"],
                                cwd=Path(__file__).resolve().parent.parent, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def timed_sweep(spec: dict, workers: int, redis_url: str, database_url: str, log: Path) -> tuple[float, dict]:
    """Seconds from queueing the sweep to its end, on ``workers`` fresh worker processes."""
    processes = [start_worker(redis_url, database_url, log) for _ in range(workers)]
    try:
        ready_workers(workers)
        started = time.perf_counter()
        task_id, _sweep_id = start_sweep(spec)
        while (status := sweeps.progress(task_id))["state"] not in ("SUCCESS", "FAILURE"):
            time.sleep(0.1)
        return time.perf_counter() - started, status["progress"]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite in a temporary folder)")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--fast-values", type=int, default=40, help="fast windows x 5 slow x 2 symbols = members")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tb-bench-sweep-"))
    url = args.database_url or f"sqlite:///{folder / 'sweep.db'}"
    upgrade(url)
    if is_empty(url):
        seed(url, scale="demo", progress=False)
    redis = PrivateRedis(folder / "redis").start()
    try:
        settings = Settings(DATABASE_URL=url, REDIS_URL=redis.url, SECRET_KEY="bench-secret-key")
        tasks.use_settings(settings)
        configure_database(url)
        sections.configure_from(settings)
        spec = sweeps.plan(request(args.fast_values))
        members = len(list(sweeps.members(spec)))
        print(f"sweep scaling · {members} members (sma_cross on SPY and QQQ, demo bars) · "
              f"{url.split(':', 1)[0]} · solo-pool workers")
        baseline = None
        for workers in args.workers:
            seconds, progress = timed_sweep(spec, workers, redis.url, url, folder / "workers.log")
            baseline = baseline or seconds * workers / args.workers[0]
            speedup = baseline / seconds
            line = (f"{workers} worker(s): {seconds:6.2f} s  {members / seconds:7.1f} members/s  "
                    f"speed-up {speedup:4.2f}x  (completed {progress['completed']}, failed {progress['failed']})")
            if workers == 2:
                line += f"  target >= {TARGET_SPEEDUP}x  {'ok' if speedup >= TARGET_SPEEDUP else 'MISSED'}"
            print(line, flush=True)
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
