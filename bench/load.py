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
import json
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
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cli import cache_worker_argv  # noqa: E402
from app.cli import gunicorn_argv as web_gunicorn_argv  # noqa: E402
from app.services import PrivateRedis, Supervisor, free_port  # noqa: E402

BENCH = ROOT / "bench"
LUA = BENCH / "load_report.lua"

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
USERNAME = "load-analyst"
NOTES_MARKER = "<!-- notes: kept when bench/load.py rewrites this file -->"

# gunicorn as `tradeboard run` starts it (app/cli.py run)
WORKERS = 2

LITE_SHARE, LITE_P99_FACTOR, FULL_SHARE, EXPIRY_P99_FACTOR, EVICTION_P99_FACTOR = 0.60, 1.5, 0.30, 2.0, 2.0


class Stop(Exception):
    pass


def _raise_stop(signum, _frame):
    raise Stop(signal.Signals(signum).name)


@dataclass
class Result:
    phase: str  # warm | expiry | eviction | floor | nocache
    endpoint: str
    connections: int
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50: float = 0.0  # ms
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0
    errors: int = 0
    error_detail: str = ""
    bytes_per_response: float = 0.0
    target: str = ""
    verdict: str = ""
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- set-up


def prepare_database(scale: str) -> tuple[str, str]:
    """The seeded database's URL (migrated) and a fresh bearer token of an analyst."""
    from sqlalchemy import select

    from app.auth import create_token, create_user
    from bench.common import seeded_url
    from data_access.db import make_engine, make_session_factory, session_scope
    from data_access.migrate import upgrade
    from data_access.models import User

    url = seeded_url(scale)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            if session.scalar(select(User.id).where(User.username == USERNAME)) is None:
                create_user(session, USERNAME, "analyst")
            token = create_token(session, USERNAME, f"load-{dt.datetime.now():%Y%m%d-%H%M%S}")
    finally:
        engine.dispose()
    return url, token


def gunicorn_argv(app_spec: str, chdir: Path, port: int, access_log: Path) -> list[str]:
    return web_gunicorn_argv(sys.executable, app_spec, chdir, f"127.0.0.1:{port}", WORKERS, access_log)


def get(url: str, token: str | None = None, timeout: float = 120.0) -> tuple[int, bytes, float]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - started


def wait_up(url: str, child, deadline_s: float = 120.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with code {child.process.returncode}; see {child.log_path}")
        try:
            get(url, timeout=2)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    raise RuntimeError(f"{child.name} did not answer {url} within {deadline_s:.0f} s")


def settle(url: str, token: str | None, quiet_s: float = 0.5, limit_s: float = 90.0) -> None:
    """After a run, wait until the server has worked off its backlog (a request answers in < quiet_s)."""
    deadline = time.monotonic() + limit_s
    time.sleep(0.5)
    while time.monotonic() < deadline:
        try:
            _status, _body, took = get(url, token, timeout=limit_s)
            if took < quiet_s:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)


class Web:
    """One gunicorn (the app or the floor) under a Supervisor; stopped by ``stop``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, probe: str):
        self.supervisor = Supervisor()
        self.child = self.supervisor.start(name, argv, env=env, cwd=ROOT, log_path=log_path)
        self.probe = probe

    def wait(self) -> Web:
        wait_up(self.probe, self.child)
        return self

    def stop(self) -> None:
        self.supervisor.stop_all()


class CacheWorker(Web):
    """The cache queue's worker, ready once its heartbeat says it consumes that queue."""

    def __init__(self, env: dict[str, str], log_path: Path, redis_url: str):
        super().__init__("cache-worker", cache_worker_argv(sys.executable, "load-cache@%h", loglevel="WARNING"),
                         env, log_path, probe="")
        self.redis_url = redis_url

    def wait(self, deadline_s: float = 60.0) -> CacheWorker:
        import redis

        from tasks.heartbeat import cache_worker_count

        client, deadline = redis.Redis.from_url(self.redis_url), time.monotonic() + deadline_s
        while not cache_worker_count(client):
            if self.child.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the cache worker did not start (see {self.child.log_path})")
            time.sleep(0.2)
        return self


# --------------------------------------------------------------------------- wrk


def run_wrk(url: str, connections: int, duration: float, token: str | None) -> dict:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "10s",
            "-s", str(LUA)]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("TBLOAD ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    data = json.loads(line[len("TBLOAD "):])
    data["raw"] = out.stdout
    return data


def to_result(phase: str, endpoint: str, connections: int, data: dict) -> Result:
    seconds = data["duration_us"] / 1e6
    errors = {k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]}
    return Result(
        phase=phase, endpoint=endpoint, connections=connections, requests=data["requests"], seconds=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        p50=data["p50"] / 1000, p95=data["p95"] / 1000, p99=data["p99"] / 1000, max=data["max"] / 1000,
        errors=sum(errors.values()), error_detail=", ".join(f"{k} {v}" for k, v in errors.items()),
        bytes_per_response=data["bytes"] / data["requests"] if data["requests"] else 0.0,
    )


def measure(phase: str, endpoint: str, base: str, path: str, connections: int, duration: float,
            token: str | None, settle_url: str) -> Result:
    print(f"  {phase:<8} {endpoint:<14} c={connections:<4} ... ", end="", flush=True)
    result = to_result(phase, endpoint, connections, run_wrk(base + path, connections, duration, token))
    print(f"{result.rps:8.0f} req/s  p50 {result.p50:7.1f}  p95 {result.p95:7.1f}  p99 {result.p99:7.1f}  "
          f"max {result.max:7.1f} ms  errors {result.errors}", flush=True)
    settle(settle_url, None)
    return result


class KeyExpirer(threading.Thread):
    """Every ``every`` seconds until stopped, the hot section keys either go past their TTL
    (``mode="stale"``: each stored value's ``fresh_until`` is moved into the past, as when its TTL
    ends: the cache keeps it one more TTL as stale) or are deleted (``mode="delete"``: as when Redis
    evicts them or an operator clears them, so the next read is a true miss)."""

    def __init__(self, redis_url: str, pattern: str, mode: str, every: float = 1.0):
        super().__init__(daemon=True)
        import redis
        from cachelib.serializers import RedisSerializer

        self.redis = redis.Redis.from_url(redis_url)
        self.serializer = RedisSerializer()
        self.pattern, self.mode, self.every = pattern, mode, every
        self.stopped = threading.Event()
        self.touched = 0
        self.rounds = 0

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            keys = list(self.redis.scan_iter(match=self.pattern, count=1000))  # locks are tb:lock:*, never matched
            if keys and self.mode == "delete":
                self.touched += int(self.redis.delete(*keys))
            elif keys:
                self.touched += self._make_stale(keys)
            self.rounds += 1

    def _make_stale(self, keys: list[bytes]) -> int:
        made = 0
        for key, stored in zip(keys, self.redis.mget(keys)):
            try:
                entry = self.serializer.loads(stored) if stored else None
            except Exception:  # noqa: BLE001 - not a section entry (a generation counter, a lock)
                continue
            if not isinstance(entry, dict) or "fresh_until" not in entry:
                continue
            entry["fresh_until"] = time.time() - 0.001
            if self.redis.set(key, self.serializer.dumps(entry), keepttl=True, xx=True):
                made += 1
        return made


def cold_build_ms(base: str, path: str, token: str, redis_url: str, pattern: str, repeats: int = 3) -> float:
    """The endpoint's answer time right after its keys are deleted, on an otherwise idle server (the
    median of ``repeats``): the one rebuild an eviction costs when nothing else competes for the CPU."""
    import redis

    client = redis.Redis.from_url(redis_url)
    times = []
    for _ in range(repeats):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
        status, body, took = get(base + path, token)
        if status != 200:
            raise RuntimeError(f"{path} answered {status} after its keys were deleted: {body[:300]!r}")
        times.append(took * 1000)
    return sorted(times)[len(times) // 2]


# --------------------------------------------------------------------------- verdicts and report


def median_run(group: list[Result]) -> Result:
    """The run of median throughput among repeats of one measurement, carrying every run's req/s
    and the errors of all of them (zero errors must hold for every run)."""
    ordered = sorted(group, key=lambda r: r.rps)
    median = ordered[(len(ordered) - 1) // 2]
    median.extra["runs_rps"] = [r.rps for r in ordered]
    return with_errors_of(median, group)


def with_errors_of(row: Result, runs: list[Result]) -> Result:
    """``row`` carrying the errors of all ``runs`` (zero errors must hold for every run)."""
    row.errors = sum(r.errors for r in runs)
    row.error_detail = "; ".join(r.error_detail for r in runs if r.error_detail)
    return row


def median_pair(pairs: list[tuple[Result, Result]]) -> Result:
    """Of (warm run, expiry run) pairs measured back to back, the expiry run of the median p99 ratio,
    carrying every pair's ratio, its own warm p99, every expiry run's req/s and the errors of all runs."""
    ratios = sorted(((e.p99 / w.p99 if w.p99 else float("inf"), w, e) for w, e in pairs), key=lambda t: t[0])
    ratio, warm, median = ratios[len(ratios) // 2]  # of an even number, the worse middle one
    median.extra.update(pair_ratio=ratio, pair_ratios=[r for r, _w, _e in ratios], paired_warm_p99=warm.p99,
                        runs_rps=sorted(e.rps for _w, e in pairs))
    return with_errors_of(median, [run for pair in pairs for run in pair])


def judge(results: list[Result]) -> None:
    floor = {r.connections: r for r in results if r.phase == "floor"}
    warm = {(r.endpoint, r.connections): r for r in results if r.phase == "warm"}
    nocache = {(r.endpoint, r.connections): r for r in results if r.phase == "nocache"}
    for r in results:
        checks: list[tuple[str, bool]] = []
        if r.phase != "nocache":
            checks.append(("0 errors", r.errors == 0))
        f = floor.get(r.connections)
        if r.phase == "warm" and f is not None and f.rps:
            share = r.rps / f.rps
            r.extra["floor_share"] = share
            if r.endpoint == "lite":
                r.extra["p99_vs_floor"] = r.p99 / f.p99 if f.p99 else 0.0
                checks.append((f">= {LITE_SHARE:.0%} floor ({share:.0%})", share >= LITE_SHARE))
                checks.append((f"p99 <= {LITE_P99_FACTOR:g}x floor ({r.extra['p99_vs_floor']:.2f}x)",
                               r.p99 <= LITE_P99_FACTOR * f.p99))
            else:
                checks.append((f">= {FULL_SHARE:.0%} floor ({share:.0%})", share >= FULL_SHARE))
        w = warm.get((r.endpoint, r.connections))
        if r.phase == "expiry" and "pair_ratios" in r.extra:
            ratio, ratios = r.extra["pair_ratio"], r.extra["pair_ratios"]
            checks.append((f"p99 <= {EXPIRY_P99_FACTOR:g}x the paired warm run's (median {ratio:.2f}x of "
                           f"{' / '.join(f'{x:.2f}' for x in ratios)}; {r.p99:.1f} vs {r.extra['paired_warm_p99']:.1f} ms)",
                           ratio <= EXPIRY_P99_FACTOR))
        if r.phase == "eviction" and w is not None and "cold_ms" in r.extra:
            # a deleted key leaves nothing to serve: the requests of its round wait for one rebuild. Single-flight
            # keeps that to one (p99 near warm p99 + one cold build); a stampede's N concurrent rebuilds would
            # each take about N / cores times as long
            bound = EVICTION_P99_FACTOR * (w.p99 + r.extra["cold_ms"])
            checks.append((f"p99 <= {EVICTION_P99_FACTOR:g}x (warm p99 + one cold build) ({r.p99:.0f} vs "
                           f"{bound:.0f} ms; cold build {r.extra['cold_ms']:.0f} ms; {r.p99 / w.p99:.1f}x warm)",
                           r.p99 <= bound))
        if r.phase == "nocache":
            w = warm.get((r.endpoint, r.connections))
            if w is not None and r.rps:
                r.extra["cache_speedup"] = w.rps / r.rps
                checks.append((f"cache = {w.rps / r.rps:.1f}x req/s, p99 {r.p99 / w.p99:.1f}x", True)
                              if w.p99 else (f"cache = {w.rps / r.rps:.1f}x req/s", True))
            r.target = "; ".join(c for c, _ in checks) + " (comparison, no target)"
            r.verdict = "-"
            continue
        r.target = "; ".join(c for c, _ in checks)
        r.verdict = "ok" if all(ok for _, ok in checks) else "MISSED: " + ", ".join(c.split(" (")[0] for c, ok in checks if not ok)


def table(results: list[Result]) -> list[str]:
    head = ["run", "endpoint", "conns", "req/s", "runs' req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "bytes",
            "target", "verdict"]
    rows = [head, ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---"]]
    for r in results:
        errors = str(r.errors) + (f" ({r.error_detail})" if r.error_detail else "")
        spread = " / ".join(f"{rps:,.0f}" for rps in r.extra.get("runs_rps", [])) or "-"
        rows.append([r.phase, r.endpoint, str(r.connections), f"{r.rps:,.0f}", spread, f"{r.p50:.1f}", f"{r.p95:.1f}",
                     f"{r.p99:.1f}", f"{r.max:.0f}", errors, f"{r.bytes_per_response:,.0f}", r.target, r.verdict])
    return ["| " + " | ".join(row) + " |" for row in rows]


def print_table(results: list[Result]) -> None:
    cols = ["run", "endpoint", "c", "req/s", "p50", "p95", "p99", "max", "err", "verdict"]
    lines = [cols]
    for r in results:
        lines.append([r.phase, r.endpoint, str(r.connections), f"{r.rps:,.0f}", f"{r.p50:.1f}", f"{r.p95:.1f}",
                      f"{r.p99:.1f}", f"{r.max:.0f}", str(r.errors), r.verdict])
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols) - 1)]
    print()
    for line in lines:
        print("  ".join(cell.rjust(w) if 2 <= i <= 8 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
              + "  " + line[-1])
    print("\n(latencies in ms; verdict details in the markdown report)")
    for r in results:
        if r.target:
            print(f"  {r.phase:<8} {r.endpoint:<14} c={r.connections:<4} {r.target}  -> {r.verdict}")


def write_markdown(path: Path, results: list[Result], meta: dict) -> None:
    lines = [
        "# Load test (`bench/load.py`)",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['cores']} cores ({meta['cpu']}), {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- tool: {meta['wrk']} (`wrk -t2 -cN -d{meta['duration']:g}s --latency --timeout 10s`, p95/p99/max from "
        "`bench/load_report.lua`'s `done()`), on loopback, on the same machine as the server",
        f"- scale: `{meta['scale']}` (SQLite `var/bench/{meta['scale']}.db`), private redis-server",
        "- gunicorn (as `tradeboard run`, `app.cli.gunicorn_argv`): `"
        + shlex.join(gunicorn_argv("wsgi:server", Path("ROOT"), 0, Path("FILE"))[3:]).replace("127.0.0.1:0", "127.0.0.1:PORT")
        + "`; DATABASE_URL, REDIS_URL, SECRET_KEY "
        "set; an analyst's bearer token on every request; "
        + ("the cache queue's worker beside it (CACHE_REFRESH_ON_WORKERS: stale refreshes), " if meta.get("cache_worker")
           else "stale sections refreshed in the web (no cache worker), ")
        + "no default-queue worker, no beat",
        f"- runs: `warm` after one request per endpoint, and `floor` = `bench/floor_app.py` (bare Flask, the warm lite "
        f"body from one Redis GET, same gunicorn settings, running beside the app): for each connection count, "
        f"{meta['repeats']} times the floor and then every endpoint; each row is the run of median req/s (all runs' req/s "
        "beside it, latencies from that run, errors of all runs), and a share of the floor compares medians; `expiry` = each endpoint while a thread makes its cached "
        "sections go past their TTL every second (lite: `tb:s:overview:*`; a dashboard: every `tb:s:*` key), so they are "
        f"served stale while one process refreshes each, measured as {meta['repeats']} pairs of a warm run and the "
        "expiry run right after it and judged by the median pair's p99 ratio (the row is that pair's expiry run, with "
        "every expiry run's req/s); `eviction` = the same, but the keys are deleted (a true miss, single-flight; one run, "
        "judged against the warm row); `nocache` = the app restarted with `CACHE_TYPE=NullCache`",
        f"- command: `{meta['command']}`",
    ]
    if meta.get("note"):
        lines.append(f"- note: {meta['note']}")
    if meta.get("expiry"):
        lines.append(f"- expiry run: {meta['expiry']}")
    if meta.get("cold"):
        lines.append(f"- cold builds for the eviction check (keys deleted, idle server, median of 3): {meta['cold']}")
    lines += [
        "- caveats: wrk counts a request as an error only when it fails or takes over 10 s; requests still "
        "outstanding when a run ends are neither errors nor latencies, so with hundreds of slow requests in flight "
        "(the `nocache` runs at 500 connections) the latencies describe the completed requests only. `bytes` is per "
        "response, headers included (the app adds ~0.9 KB of security headers the floor does not send).",
        "", *table(results), "",
    ]
    notes = ""  # hand-written findings below the marker survive a re-run
    if path.exists() and NOTES_MARKER in path.read_text():
        notes = path.read_text().split(NOTES_MARKER, 1)[1]
    path.write_text("\n".join(lines) + "\n" + NOTES_MARKER + (notes or "\n"))


# --------------------------------------------------------------------------- main


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
        # and a lone run's outliers as much as the expiry (bench/LOAD.md, session 11)
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
