"""The write path's targets (issue 20; a benchmark, not a test), on SQLite and, given a PostgreSQL
server, on PostgreSQL:

    python bench/ingest.py [--rows N] [--database-url URL] [--parts bulk api visibility] [--no-sqlite] [--no-again]

- bulk: N signals and N executions (bench/ingest_book.py: 3 accounts, 8 strategies, 600 symbols, a
  year of signals, a third unfilled and the others filled once or twice) imported from Parquet as
  `tradeboard import` does (parse_file, then ingest with a progress callback), positions and closed
  trades derived; then the same files again (every row unchanged). Target: 10M + 10M in under
  3 minutes, i.e. 111k rows/s; a smaller --rows prints the rate and the 10M time it extrapolates to.
- api: gunicorn as `tradeboard run` starts it (app.cli.gunicorn_argv, 2 workers) on the imported
  book; 10,000-row CSV batches of signals, one at a time (median under 1 s), then four clients at
  once (at least 20,000 rows/s between them).
- visibility: one signal POSTed, then the signal-sender dashboard JSON (no force_refresh) read until
  it lists it; p99 of the time from the 200 to that answer, over 100 trials, under 1 s.

Each run starts from an empty database: a SQLite file under var/bench/ingest/, and on PostgreSQL the
database tb_bench_ingest on the server of --database-url (or TRADEBOARD_TEST_POSTGRES_URL), dropped
and created again.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
# the project's root first: run as a script, bench/ is on the path and its analytics.py would
# shadow the analytics package
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench import ingest_book  # noqa: E402
from bench.common import empty_postgres_url, empty_sqlite_url  # noqa: E402

PG_DATABASE = "tb_bench_ingest"
TARGET_ROWS_PER_S = 20_000_000 / 180  # 10M signals + 10M executions in 3 minutes
TARGET_BATCH_S, TARGET_CONCURRENT_ROWS_PER_S, TARGET_VISIBLE_P99_S = 1.0, 20_000, 1.0
API_BATCH, API_SERIAL_BATCHES, API_CLIENTS, API_BATCHES_PER_CLIENT = 10_000, 7, 4, 4
VISIBILITY_TRIALS = 100
STRATEGY = ingest_book.STRATEGIES[0][0]


def line(what: str, figure: str, target: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    print(f"  {what:<58} {figure:>24}   {target:<22} {verdict}".rstrip(), flush=True)


# --------------------------------------------------------------------------- databases


def prepare(url: str) -> dict[str, str]:
    """The schema, the book's accounts and strategies, and bearer tokens of an ingest service and an admin."""
    from app.auth import create_token, create_user
    from data_access.db import make_engine, make_session_factory, session_scope
    from data_access.ingest import Writer, ingest
    from data_access.ingest.parse import Parsed
    from data_access.migrate import upgrade

    upgrade(url)
    engine = make_engine(url)
    try:
        for entity, frame in (("accounts", ingest_book.accounts_frame()), ("strategies", ingest_book.strategies_frame())):
            ingest(engine, entity, Parsed(frame.astype(object), np.arange(1, len(frame) + 1)), Writer("admin"))
        tokens = {}
        with session_scope(make_session_factory(engine)) as session:
            for role in ("ingest", "admin"):
                create_user(session, f"bench-{role}", role)
                tokens[role] = create_token(session, f"bench-{role}", "bench")
    finally:
        engine.dispose()
    return tokens


# --------------------------------------------------------------------------- bulk import


def import_file(url: str, entity: str, path: Path) -> tuple[float, object]:
    """`tradeboard import ENTITY FILE` in process: (seconds, IngestResult)."""
    from data_access.db import make_engine
    from data_access.ingest import Writer, ingest, parse_file

    written = [0]
    started = time.perf_counter()
    parsed = parse_file(path)
    engine = make_engine(url)
    try:
        result = ingest(engine, entity, parsed, Writer("admin"), progress=lambda n: written.__setitem__(0, written[0] + n))
    finally:
        engine.dispose()
    return time.perf_counter() - started, result


def bulk(url: str, rows: int, work: Path, again: bool = True) -> None:
    from sqlalchemy import create_engine, text

    started = time.perf_counter()
    signals_path, executions_path, n_signals, n_executions = ingest_book.write_book(work / "book", rows)
    print(f"  book: {n_signals:,} signals, {n_executions:,} executions as Parquet "
          f"({time.perf_counter() - started:.1f} s to generate)", flush=True)
    total = n_signals + n_executions
    first_s, first = import_file(url, "signals", signals_path)
    second_s, second = import_file(url, "executions", executions_path)
    seconds = first_s + second_s
    rate = total / seconds
    line(f"signals: {n_signals:,} rows", f"{first_s:8.1f} s {n_signals / first_s:>9,.0f} rows/s")
    line(f"executions (with positions, closed trades): {n_executions:,} rows",
         f"{second_s:8.1f} s {n_executions / second_s:>9,.0f} rows/s")
    ok = first.inserted == n_signals and second.inserted == n_executions
    line(f"bulk import, {total:,} rows{'' if ok else ' (NOT all inserted)'}", f"{rate:>9,.0f} rows/s",
         f"target >= {TARGET_ROWS_PER_S:,.0f}", ok and rate >= TARGET_ROWS_PER_S)
    at_10m = 20_000_000 / rate
    line("10M signals + 10M executions" + ("" if rows >= 10_000_000 else " (extrapolated)"),
         f"{at_10m:8.0f} s", "target < 180 s", at_10m < 180)
    engine = create_engine(url)
    with engine.connect() as conn:
        trades, positions = (conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in ("closed_trades", "positions"))
    engine.dispose()
    line("derived", f"{trades:,} closed trades, {positions:,} positions")
    if not again:
        return
    again_s = 0.0
    unchanged = 0
    for entity, path in (("signals", signals_path), ("executions", executions_path)):
        took, result = import_file(url, entity, path)
        again_s += took
        unchanged += result.unchanged
    line("the same files again (every row unchanged)", f"{again_s:8.1f} s {total / again_s:>9,.0f} rows/s",
         f"unchanged {unchanged:,} of {total:,}", unchanged == total)


# --------------------------------------------------------------------------- a real server


def post(base: str, path: str, token: str, body: bytes, content_type: str) -> tuple[int, bytes, float]:
    request = urllib.request.Request(base + path, data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read(), time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - started


class Server:
    """Redis and gunicorn (wsgi:server) as `tradeboard run` starts them, on ``url``."""

    def __init__(self, url: str, work: Path) -> None:
        from app.services import PrivateRedis, free_port
        from bench.load_servers import Web, gunicorn_argv

        self.redis = PrivateRedis(work / "redis", log_file=work / "redis.log").start()
        port = free_port()
        env = dict(os.environ, DATABASE_URL=url, REDIS_URL=self.redis.url, SECRET_KEY=secrets.token_hex(32),
                   TRADEBOARD_VAR=str(work), VAR_DIR=str(work), PYTHONUNBUFFERED="1", CACHE_TYPE="RedisCache")
        self.base = f"http://127.0.0.1:{port}"
        try:
            self.web = Web("web", gunicorn_argv("wsgi:server", ROOT, port, work / "access.log"), env,
                           work / "web.log", self.base + "/api/v1/health").wait()
        except BaseException:
            self.redis.stop()
            raise

    def stop(self) -> None:
        self.web.stop()
        self.redis.stop()


def csv_batches(count: int, prefix: str) -> list[bytes]:
    signals, _ = ingest_book.book(API_BATCH * count, prefix, seed=11)
    return [signals.iloc[i * API_BATCH:(i + 1) * API_BATCH].to_csv(index=False).encode() for i in range(count)]


def api(server: Server, token: str) -> None:
    path = "/api/v1/ingest/signals"
    serial = csv_batches(API_SERIAL_BATCHES, "api_")
    times = []
    for body in serial:
        status, answer, took = post(server.base, path, token, body, "text/csv")
        if status != 200:
            raise RuntimeError(f"ingest answered {status}: {answer[:300]!r}")
        times.append(took)
    median = statistics.median(times)
    line(f"API: {API_BATCH:,}-row CSV batch of signals", f"{median * 1e3:8.0f} ms  (min {min(times) * 1e3:.0f})",
         f"target < {TARGET_BATCH_S * 1e3:.0f} ms", median < TARGET_BATCH_S)
    batches = csv_batches(API_CLIENTS * API_BATCHES_PER_CLIENT, "api4_")

    def client(k: int) -> int:
        for body in batches[k::API_CLIENTS]:
            status, answer, _ = post(server.base, path, token, body, "text/csv")
            if status != 200:
                raise RuntimeError(f"ingest answered {status}: {answer[:300]!r}")
        return len(batches[k::API_CLIENTS]) * API_BATCH

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(API_CLIENTS) as pool:
        sent = sum(pool.map(client, range(API_CLIENTS)))
    rate = sent / (time.perf_counter() - started)
    line(f"API: {API_CLIENTS} clients at once, {sent:,} rows", f"{rate:>9,.0f} rows/s",
         f"target >= {TARGET_CONCURRENT_ROWS_PER_S:,}", rate >= TARGET_CONCURRENT_ROWS_PER_S)


def visibility(server: Server, tokens: dict[str, str]) -> None:
    import datetime as dt

    read = (f"{server.base}/api/v1/dashboards/signal-sender?"
            + urllib.parse.urlencode({"strategy_name": STRATEGY}))
    seen = []
    for trial in range(VISIBILITY_TRIALS):
        signal_id = f"vis_{secrets.token_hex(4)}_{trial}"
        row = {"signal_id": signal_id, "strategy_name": STRATEGY, "symbol": "VIS", "side": "BUY", "quantity": 10,
               "received_time": dt.datetime.now(dt.UTC).isoformat(), "execution_status": "PENDING"}
        status, answer, _ = post(server.base, "/api/v1/ingest/signals", tokens["ingest"], orjson.dumps([row]),
                                 "application/json")
        if status != 200:
            raise RuntimeError(f"ingest answered {status}: {answer[:300]!r}")
        acknowledged = time.perf_counter()
        while True:
            request = urllib.request.Request(read, headers={"Authorization": f"Bearer {tokens['admin']}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                doc = orjson.loads(response.read())
            if any(h["signal_id"] == signal_id for h in doc["signal_history"] or []):
                seen.append(time.perf_counter() - acknowledged)
                break
            if time.perf_counter() - acknowledged > 30:
                raise RuntimeError(f"{signal_id} not on the dashboard 30 s after its 200")
            time.sleep(0.01)
    p50, p99 = np.percentile(seen, [50, 99])
    line(f"visibility: 200 on an ingest -> signal-sender JSON lists it, n={len(seen)}",
         f"p99 {p99 * 1e3:6.0f} ms (p50 {p50 * 1e3:.0f})", f"target < {TARGET_VISIBLE_P99_S * 1e3:.0f} ms",
         p99 < TARGET_VISIBLE_P99_S)


# --------------------------------------------------------------------------- main


def run(label: str, url: str, rows: int, parts: list[str], again: bool = True) -> None:
    print(f"{label}:", flush=True)
    work = Path(tempfile.mkdtemp(prefix="tb-bench-ingest-"))
    try:
        tokens = prepare(url)
        if "bulk" in parts:
            bulk(url, rows, work, again)
        if "api" in parts or "visibility" in parts:
            server = Server(url, work)
            try:
                if "api" in parts:
                    api(server, tokens["ingest"])
                if "visibility" in parts:
                    visibility(server, tokens)
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="signals (and executions) of the bulk import")
    parser.add_argument("--database-url", default=os.environ.get("TRADEBOARD_TEST_POSTGRES_URL"),
                        help="a PostgreSQL URL whose server gets the database tb_bench_ingest "
                             "(default: TRADEBOARD_TEST_POSTGRES_URL; none: SQLite only)")
    parser.add_argument("--parts", nargs="+", choices=["bulk", "api", "visibility"], default=["bulk", "api", "visibility"])
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-again", action="store_true", help="skip the bulk part's second import of the same files")
    args = parser.parse_args()
    print(f"ingest benchmark · {os.cpu_count()} cores · {args.rows:,} signals + executions", flush=True)
    if not args.no_sqlite:
        run("SQLite", empty_sqlite_url("ingest"), args.rows, args.parts, not args.no_again)
    if args.database_url and args.database_url.startswith("postgresql"):
        run("PostgreSQL", empty_postgres_url(args.database_url, PG_DATABASE), args.rows, args.parts,
            not args.no_again)


if __name__ == "__main__":
    main()
