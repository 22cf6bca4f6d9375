"""The /import page's path for a large file (a benchmark, not a test): a 1,000,000-row CSV uploaded to
POST /import/upload (the route the page's upload posts to, through the app's WSGI stack), then
checked whole and committed by the functions the worker's tasks run (data_access.imports.jobs).

    python bench/import_page.py [--rows N] [--entities signals executions] [--postgres-url URL] [--no-sqlite]

Targets: validate (the whole-file check) and commit each under 60 s. Each run starts from an empty
database with bench/ingest_book.py's accounts and strategies: a SQLite file under var/bench/import/,
and on PostgreSQL the database tb_bench_import (dropped and created again).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench import ingest_book  # noqa: E402

TARGET_S = 60.0
PG_DATABASE = "tb_bench_import"


def line(what: str, seconds: float, rows: int, target: float | None = None) -> None:
    verdict = "" if target is None else ("ok" if seconds < target else "MISSED")
    goal = f"target < {target:.0f} s" if target else ""
    print(f"  {what:<44} {seconds:8.1f} s {rows / seconds:>10,.0f} rows/s   {goal:<16} {verdict}".rstrip(), flush=True)


def sqlite_url() -> str:
    folder = ROOT / "var" / "bench" / "import"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return f"sqlite:///{folder / 'import.db'}"


def postgres_url(server_url: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(server_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{PG_DATABASE}"


def app_on(url: str, redis_url: str):
    """The app on ``url`` (migrated, with the book's accounts and strategies) and a signed-in admin."""
    from app import create_app
    from app.auth import create_user
    from app.config import Settings
    from data_access.ingest import Writer, ingest
    from data_access.ingest.parse import Parsed
    from data_access.migrate import upgrade

    upgrade(url)
    settings = Settings(DATABASE_URL=url, REDIS_URL=redis_url, SECRET_KEY="bench-secret", CACHE_TYPE="RedisCache",
                        MAX_IMPORT_BYTES=1_000_000_000)
    dash_app = create_app(settings)
    engine = dash_app.server.extensions["tradeboard"].engine
    for entity, frame in (("accounts", ingest_book.accounts_frame()), ("strategies", ingest_book.strategies_frame())):
        ingest(engine, entity, Parsed(frame.astype(object), np.arange(1, len(frame) + 1)), Writer("admin"))
    with dash_app.server.extensions["tradeboard"].session() as session:
        create_user(session, "bench-admin", "admin", password="bench-password-123")
    client = dash_app.server.test_client()
    token = client.get("/login")
    form = token.get_data(as_text=True).split('name="form_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": "bench-admin", "password": "bench-password-123", "form_token": form})
    return dash_app, client


def run(url: str, redis_url: str, rows: int, entities: list[str], work: Path) -> None:
    from data_access.imports import jobs

    signals, executions = ingest_book.book(rows, "p_")
    frames = {"signals": signals, "executions": executions}
    dash_app, client = app_on(url, redis_url)
    engine = dash_app.server.extensions["tradeboard"].engine
    for entity in ["signals", "executions"]:
        if entity not in entities and entity == "executions":
            continue
        frame = frames[entity]
        path = work / f"{entity}.csv"
        frame.to_csv(path, index=False)
        size = path.stat().st_size
        started = time.perf_counter()
        with path.open("rb") as body:
            answer = client.post(f"/import/upload?filename={path.name}", data=body,
                                 headers={"Content-Type": "application/octet-stream", "Origin": "http://localhost",
                                          "Content-Length": str(size)})
        upload_s = time.perf_counter() - started
        record = answer.get_json()
        assert answer.status_code == 200 and record["entity"] == entity, record
        started = time.perf_counter()
        checked = jobs.check(engine, record["id"])
        check_s = time.perf_counter() - started
        assert checked["status"] == "valid", (checked, jobs.get(engine, record["id"])["message"])
        started = time.perf_counter()
        committed = jobs.commit(engine, record["id"])
        commit_s = time.perf_counter() - started
        assert committed["counts"][entity]["inserted"] == len(frame), committed
        if entity not in entities:
            continue  # written only because the executions need their signals
        n = len(frame)
        print(f"  {entity}: {n:,} rows, {size / 1e6:,.1f} MB of CSV", flush=True)
        line("upload (POST /import/upload)", upload_s, n)
        line("validate (the whole-file check)", check_s, n, TARGET_S)
        line("commit (with positions, trades, rollups)" if entity == "executions" else "commit", commit_s, n, TARGET_S)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--entities", nargs="+", default=["signals"], choices=["signals", "executions"])
    parser.add_argument("--postgres-url", default=os.environ.get("TRADEBOARD_TEST_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    from bench.common import cache_on_private_redis

    with cache_on_private_redis() as redis_url, tempfile.TemporaryDirectory() as tmp:
        targets = [] if args.no_sqlite else [("SQLite", sqlite_url)]
        if args.postgres_url:
            targets.append(("PostgreSQL", lambda: postgres_url(args.postgres_url)))
        for label, make in targets:
            print(f"{label}: {args.rows:,}-row CSV through the import page's path", flush=True)
            run(make(), redis_url, args.rows, args.entities, Path(tmp))


if __name__ == "__main__":
    main()
