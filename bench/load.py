"""Load test of the JSON API under gunicorn in the deployment configuration, with wrk (a benchmark,
not a test; run it by hand).

    python bench/load.py                 # large scale, 10 s per run, 10/100/500 connections (~25 min)
    python bench/load.py --quick         # demo scale, 3 s per run, 10/100 connections (a smoke run)
    python bench/load.py --scale demo --duration 5 --connections 10,100 --no-nocache --out -

Brings up everything itself on free loopback ports and stops it at the end (also on Ctrl-C): a
private redis-server, the seeded SQLite database var/bench/<scale>.db (migrated), an analyst user
with a bearer token, and gunicorn exactly as `tradeboard run` starts the web (wsgi:server, gthread,
app.cli.gunicorn_argv: 2 workers x 16 threads, a socket per worker, timeout 120, access log to a file; DATABASE_URL, REDIS_URL, SECRET_KEY),
and, with CACHE_REFRESH_ON_WORKERS=true in the environment, the cache queue's worker beside it, as `tradeboard
run` then starts it (app.cli.cache_worker_argv: it takes the stale refreshes the web hands over, tasks/cache.py).
No default-queue worker and no beat: nothing warms the cache behind the load test's back.

Runs, each `wrk -t2 -cN -dD --latency --timeout 10s -H "Authorization: Bearer ..." -s load_report.lua`:
  warm     every endpoint (lite, paper-trading, client, strategy) after one warming request each
  expiry   every endpoint at every connection count while a thread makes its cached sections go past
           their TTL every second (served stale while one process refreshes each): --repeats pairs of a
           warm run and the expiry run right after it, the pair of median p99 ratio reported
  eviction the same, but the keys are deleted every second (a true miss: single-flight rebuilds)
  floor    bench/floor_app.py under the same gunicorn settings: the warm lite body from one Redis GET;
           it runs beside the app, and for each connection count the floor and then every endpoint's
           warm run are measured --repeats times (default 3), the median run reported
  nocache  the same requests with CACHE_TYPE=NullCache (REDIS_URL kept: monitoring still writes there)

Targets (issue 9): zero errors; warm lite >= 60 % of the floor's req/s with p99 <= 1.5x the floor's;
warm full dashboards >= 30 % of the floor's req/s; no latency cliff while the hot key expires (zero
errors, p99 <= 2x the paired warm run's, median of the pairs). Eviction, beyond the issue: zero errors and no stampede, p99 <= 2x (the warm
p99 + one cold build of the endpoint, measured on the idle server just before: keys deleted, one request, median
of 3); a deleted key leaves nothing to serve, so a bound of 2x the warm p99 alone could not be met by any cache
whose rebuild takes longer than that. Writes bench/LOAD.md (or --out PATH; "-" for none).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.services import PrivateRedis, free_port  # noqa: E402
from bench.load_runs import KeyExpirer, Result, cold_build_ms, measure  # noqa: E402
from bench.load_servers import CacheWorker, Web, get, gunicorn_argv, prepare_database, settle  # noqa: E402
from bench.load_verdicts import judge, median_pair, median_run, print_table, write_markdown  # noqa: E402

BENCH = ROOT / "bench"

ENDPOINTS = {  # name -> path
    "lite": "/api/v1/dashboards/paper-trading/lite",
    "paper-trading": "/api/v1/dashboards/paper-trading",
    "client": "/api/v1/dashboards/client",
    "strategy": "/api/v1/dashboards/strategy-performance",
}
FLOOR_PATH = "/floor"
FLOOR_KEY = "tb:bench:floor"
# what each endpoint's expiry and eviction runs age or delete every second: lite's one section (paper trading's overview);
# for a whole dashboard every section key (only that endpoint is under load during its run)
HOT_PATTERNS = {"lite": "tb:s:overview:*", "paper-trading": "tb:s:*", "client": "tb:s:*", "strategy": "tb:s:*"}


class Stop(Exception):
    pass


def _raise_stop(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=["demo", "large"], default=None, help="default large (demo with --quick)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run (default 10; 3 with --quick)")
    parser.add_argument("--connections", default=None, help="comma-separated (default 10,100,500; 10,100 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: demo scale, 3 s, 10/100 connections")
    parser.add_argument("--repeats", type=int, default=None,
                        help="warm and floor runs per endpoint and connection count, interleaved; the median is "
                             "reported (default 3; 1 with --quick)")
    parser.add_argument("--no-nocache", action="store_true", help="skip the CACHE_TYPE=NullCache runs")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS),
                        help=f"comma-separated, of {', '.join(ENDPOINTS)} (default all; the floor always runs)")
    parser.add_argument("--note", default="", help="a line for the report (e.g. that the machine was busy)")
    parser.add_argument("--out", default=str(BENCH / "LOAD.md"), help='markdown report ("-": none)')
    args = parser.parse_args(argv)
    scale = args.scale or ("demo" if args.quick else "large")
    duration = args.duration or (3.0 if args.quick else 10.0)
    connections = [int(c) for c in (args.connections or ("10,100" if args.quick else "10,100,500")).split(",")]
    repeats = args.repeats or (1 if args.quick else 3)
    asked = set(args.endpoints.split(","))
    if asked - set(ENDPOINTS):
        parser.error(f"unknown endpoints: {', '.join(sorted(asked - set(ENDPOINTS)))} (known: {', '.join(ENDPOINTS)})")
    endpoints = {name: path for name, path in ENDPOINTS.items() if name in asked}
    if repeats < 1:
        parser.error("--repeats must be at least 1")

    if not shutil.which("wrk"):
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0].strip()

    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    work = Path(tempfile.mkdtemp(prefix="tb-load-"))
    redis_server: PrivateRedis | None = None
    web: Web | None = None
    floor: Web | None = None
    cache_worker: CacheWorker | None = None
    results: list[Result] = []
    meta = {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "cores": os.cpu_count(),
        "cpu": _cpu_model(), "wrk": wrk_version, "duration": duration, "scale": scale, "note": args.note,
        "repeats": repeats,
        "command": "python bench/load.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
    }
    try:
        redis_server = PrivateRedis(work / "redis", log_file=work / "redis.log").start()
        print(f"redis-server on {redis_server.url}; logs in {work}")
        database_url, token = prepare_database(scale)
        env = dict(os.environ)
        env.update(DATABASE_URL=database_url, REDIS_URL=redis_server.url, SECRET_KEY=secrets.token_hex(32),
                   TRADEBOARD_VAR=str(work), VAR_DIR=str(work), PYTHONUNBUFFERED="1", CACHE_TYPE="RedisCache")

        def start_app(cache_type: str) -> tuple[Web, str]:
            port = free_port()
            app_env = dict(env, CACHE_TYPE=cache_type)
            base = f"http://127.0.0.1:{port}"
            w = Web(f"web-{cache_type}", gunicorn_argv("wsgi:server", ROOT, port, work / f"access-{cache_type}.log"),
                    app_env, work / f"web-{cache_type}.log", base + "/api/v1/health").wait()
            print(f"gunicorn wsgi:server ({cache_type}) on {base} (pid {w.child.pid})")
            return w, base

        def start_floor(app_base: str) -> tuple[Web, str]:
            """The floor app beside the app, returning the warm lite body from one Redis GET."""
            import redis

            status, lite_body, _ = get(app_base + ENDPOINTS["lite"], token)
            if status != 200:
                raise RuntimeError(f"lite answered {status}")
            redis.Redis.from_url(redis_server.url).set(FLOOR_KEY, lite_body)
            port = free_port()
            floor_base = f"http://127.0.0.1:{port}"
            w = Web("floor", gunicorn_argv("floor_app:app", BENCH, port, work / "access-floor.log"),
                    dict(env, FLOOR_KEY=FLOOR_KEY), work / "floor.log", floor_base + FLOOR_PATH).wait()
            status, floor_body, _ = get(floor_base + FLOOR_PATH)
            assert status == 200 and floor_body == lite_body, "the floor must return the lite body"
            print(f"floor app on {floor_base} ({len(floor_body)} bytes, the same as lite's)")
            return w, floor_base

        from app.config import Settings

        if Settings.from_env().CACHE_REFRESH_ON_WORKERS:  # as `tradeboard run` does
            cache_worker = CacheWorker(env, work / "cache-worker.log", redis_server.url).wait()
            print(f"cache worker (pid {cache_worker.child.process.pid}) consuming the cache queue")
            meta["cache_worker"] = True
        # ---- warm runs, interleaved with the floor: for each connection count, ``repeats`` times the
        # floor and then every endpoint, so each share compares runs minutes apart at most, and the
        # median of the repeats is reported (this machine's throughput drifts by 10-30 % between runs)
        web, base = start_app("RedisCache")
        for name, path in endpoints.items():
            status, body, took = get(base + path, token)
            print(f"  warming {name:<14} {status} {len(body):>9,} bytes in {took * 1000:8.1f} ms")
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
        floor, floor_base = start_floor(base)
        runs: dict[tuple[str, str, int], list[Result]] = {}
        for c in connections:
            for _repeat in range(repeats):
                runs.setdefault(("floor", "floor", c), []).append(
                    measure("floor", "floor", floor_base, FLOOR_PATH, c, duration, None, floor_base + FLOOR_PATH))
                for name, path in endpoints.items():
                    runs.setdefault(("warm", name, c), []).append(
                        measure("warm", name, base, path, c, duration, token, base + "/api/v1/health"))
        floor.stop()
        floor = None
        results.extend(median_run(group) for group in runs.values())

        # ---- hot keys expiring (stale) and evicted (deleted) under load: each endpoint at each connection count
        touched = []
        cold = {name: cold_build_ms(base, path, token, redis_server.url, HOT_PATTERNS[name])
                for name, path in endpoints.items()}
        settle(base + "/api/v1/health", None)
        meta["cold"] = ", ".join(f"{name} {ms:.0f} ms" for name, ms in cold.items())
        print(f"  cold builds (keys deleted, idle server, median of 3): {meta['cold']}")
        health = base + "/api/v1/health"

        def under_expirer(phase: str, mode: str, verb: str, name: str, path: str, c: int) -> Result:
            expirer = KeyExpirer(redis_server.url, HOT_PATTERNS[name], mode)
            expirer.start()
            try:
                return measure(phase, name, base, path, c, duration, token, health)
            finally:
                expirer.stopped.set()
                expirer.join()
                touched.append(f"{phase} {name} at {c}: {expirer.touched} keys {verb} in {expirer.rounds} rounds")

        # expiry: ``repeats`` pairs of a warm run and, right after it, the expiry run, judged by the median pair's
        # ratio: one expiry run against the warm phase's median, minutes older, had compared the machine's drift
        # and a lone run's outliers as much as the expiry
        for name, path in endpoints.items():
            for c in connections:
                pairs = []
                for _repeat in range(repeats):
                    get(base + path, token)  # the previous expiry run's last stale sections refreshed
                    settle(health, None)
                    paired = measure("paired", name, base, path, c, duration, token, health)
                    pairs.append((paired, under_expirer("expiry", "stale", "made stale", name, path, c)))
                results.append(median_pair(pairs))
        for name, path in endpoints.items():
            for c in connections:
                results.append(under_expirer("eviction", "delete", "deleted", name, path, c))
                results[-1].extra["cold_ms"] = cold[name]
        meta["expiry"] = ("every second (`" + "`, `".join(sorted(set(HOT_PATTERNS.values()))) + "`): "
                          + "; ".join(touched))
        print(f"  ({meta['expiry']})")
        web.stop()
        web = None
        if cache_worker is not None:
            cache_worker.stop()
            cache_worker = None

        # ---- caching disabled
        if not args.no_nocache:
            web, base = start_app("NullCache")
            for name, path in endpoints.items():
                status, body, took = get(base + path, token)
                print(f"  first {name:<14} {status} {len(body):>9,} bytes in {took * 1000:8.1f} ms (no cache)")
            for name, path in endpoints.items():
                for c in connections:
                    results.append(measure("nocache", name, base, path, c, duration, token, base + "/api/v1/health"))
            web.stop()
            web = None

        order = {"warm": 0, "expiry": 1, "eviction": 2, "floor": 3, "nocache": 4}
        results.sort(key=lambda r: (order[r.phase], list(ENDPOINTS).index(r.endpoint) if r.endpoint in ENDPOINTS else 9,
                                    r.connections))
        # floor rows first in the table: they are the yardstick
        results.sort(key=lambda r: 0 if r.phase == "floor" else 1)
        judge(results)
        print_table(results)
        if args.out != "-":
            write_markdown(Path(args.out), results, meta)
            print(f"\nwrote {args.out}")
        return 0 if all(r.verdict in ("ok", "-") for r in results) else 1
    except Stop as stop:
        print(f"\nload: {stop.args[0]}: stopping", file=sys.stderr)
        return 130
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        for server in (web, floor, cache_worker):
            if server is not None:
                server.stop()
        if redis_server is not None:
            redis_server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
