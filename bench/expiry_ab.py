"""Stale refreshes on the cache worker against refreshes in the web process, interleaved (a benchmark,
not a test; run it by hand). What bench/load.py's expiry rows cannot show: on this machine a run's
throughput drifts by 10-30 % within minutes, so two load runs of different code compare the machine as
much as the code. Here both modes share one web server and alternate, round by round.

    python bench/expiry_ab.py                         # client at 10 connections, 4 rounds of 8 s runs
    python bench/expiry_ab.py --endpoint paper-trading --connections 100 --rounds 6

Brings up a private redis-server, the seeded `large` SQLite database and gunicorn as bench/load.py does.
Each round runs every mode, each first in turn: `worker` starts the cache queue's worker
(app.cli.cache_worker_argv) and waits until the web has seen its heartbeat; `web` has none, so the web
refreshes stale sections on its own thread. (A mode is a name and the cache worker's extra environment:
add one to compare a setting.) In each mode: a warm wrk run, then the same run while
bench/load.py's KeyExpirer makes the endpoint's sections stale every second. Prints, per run, the expiry
p99 over the warm p99 (load.py's expiry target: <= 2x), the web workers' CPU per request during the
expiry run, and the cache worker's CPU seconds in it.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli import cache_worker_argv  # noqa: E402
from app.services import PrivateRedis, Supervisor, free_port  # noqa: E402
from bench import load  # noqa: E402


MODES = {  # mode -> the cache worker's extra environment, or None for no cache worker
    "worker": {},
    "web": None,
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def web_workers(master_pid: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", choices=list(load.ENDPOINTS), default="client")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--modes", default="worker,web",
                        help=f"comma-separated, of {', '.join(MODES)} (default worker,web)")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if set(modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(set(modes) - set(MODES)))}")

    import redis

    from tasks.cache import WORKER_CHECK_SECONDS
    from tasks.heartbeat import cache_worker_count

    work = Path(tempfile.mkdtemp(prefix="tb-expiry-ab-"))
    redis_server = PrivateRedis(work / "redis", log_file=work / "redis.log").start()
    client = redis.Redis.from_url(redis_server.url)
    workers = Supervisor()
    web = None
    ratios: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        database_url, token = load.prepare_database("large")
        env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_server.url, SECRET_KEY=secrets.token_hex(32),
                   TRADEBOARD_VAR=str(work), VAR_DIR=str(work), PYTHONUNBUFFERED="1", CACHE_TYPE="RedisCache",
                   WARM_UP_AT_WORKER_START="false")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        web = load.Web("web", load.gunicorn_argv("wsgi:server", ROOT, port, work / "access.log"), env,
                       work / "web.log", base + "/api/v1/health").wait()
        path, health = load.ENDPOINTS[args.endpoint], base + "/api/v1/health"
        load.get(base + path, token)
        for round_number in range(args.rounds):
            shift = round_number % len(modes)
            for mode in modes[shift:] + modes[:shift]:  # each mode first in turn
                cache_worker = None
                if MODES[mode] is not None:
                    cache_worker = workers.start("cache-worker", cache_worker_argv(
                        sys.executable, f"ab-{round_number}@%h", loglevel="WARNING"), env=dict(env, **MODES[mode]),
                        cwd=ROOT, log_path=work / "cache-worker.log")
                    while not cache_worker_count(client):
                        time.sleep(0.2)
                    time.sleep(WORKER_CHECK_SECONDS + 1)  # until every web worker has looked again
                warm = load.measure("warm", args.endpoint, base, path, args.connections, args.duration, token, health)
                pids = web_workers(web.child.pid)
                web_cpu = sum(cpu_seconds(pid) for pid in pids)
                worker_cpu = cpu_seconds(cache_worker.pid) if cache_worker else 0.0
                expirer = load.KeyExpirer(redis_server.url, load.HOT_PATTERNS[args.endpoint], "stale")
                expirer.start()
                try:
                    expiry = load.measure("expiry", args.endpoint, base, path, args.connections, args.duration,
                                          token, health)
                finally:
                    expirer.stopped.set()
                    expirer.join()
                web_cpu = sum(cpu_seconds(pid) for pid in pids) - web_cpu
                worker_cpu = (cpu_seconds(cache_worker.pid) - worker_cpu) if cache_worker else 0.0
                ratio = expiry.p99 / warm.p99
                ratios[mode].append(ratio)
                print(f"round {round_number} {mode:>12}: warm {warm.rps:5.0f} req/s p99 {warm.p99:5.1f} ms | expiry "
                      f"{expiry.rps:5.0f} req/s p99 {expiry.p99:5.1f} ms | {ratio:.2f}x | web CPU "
                      f"{1000 * web_cpu / max(1, expiry.requests):.2f} ms/request | cache worker CPU {worker_cpu:.2f} s",
                      flush=True)
                if cache_worker is not None:
                    workers.stop_all()  # a clean stop takes its heartbeat out of the set
                    time.sleep(WORKER_CHECK_SECONDS + 1)
        print(f"\nexpiry p99 / warm p99, {args.endpoint} at {args.connections} connections (target <= 2x):")
        for mode, values in ratios.items():
            print(f"  {mode:>12}: {' '.join(f'{v:.2f}' for v in values)}  (median {statistics.median(values):.2f}, "
                  f"max {max(values):.2f})")
        return 0
    finally:
        if web is not None:
            web.stop()
        workers.stop_all()
        redis_server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
