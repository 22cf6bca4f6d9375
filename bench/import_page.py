"""The /import page's path for a large file (a benchmark, not a test): a 1,000,000-row CSV uploaded to
POST /import/upload (the route the page's upload posts to, through the app's WSGI stack), then
checked whole and committed by the functions the worker's tasks run (data_access.imports.jobs).

    python bench/import_page.py [--rows N] [--entities signals executions] [--browser]
                                [--postgres-url URL] [--no-sqlite]

``--browser`` uploads each file the way a person does instead: headless Chromium (chromedriver on
PATH) chooses it in the page's file input, against the app served on a local port, and the time is
until the page shows the file's columns.

Targets: validate (the whole-file check) and commit each under 60 s. Each run starts from an empty
database with bench/ingest_book.py's accounts and strategies: a SQLite file under var/bench/import/,
and on PostgreSQL the database tb_bench_import (dropped and created again).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from bench import ingest_book  # noqa: E402
from bench.common import cache_on_private_redis, empty_postgres_url, empty_sqlite_url  # noqa: E402

TARGET_S = 60.0
TARGET_ROWS = 1_000_000
PG_DATABASE = "tb_bench_import"


def line(what: str, seconds: float, rows: int, target: float | None = None) -> None:
    verdict = "" if target is None else ("ok" if seconds < target else "MISSED")
    goal = f"target < {target:.0f} s" if target else ""
    print(f"  {what:<52} {seconds:8.1f} s {rows / seconds:>10,.0f} rows/s   {goal:<16} {verdict}".rstrip(), flush=True)


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


def browser_upload(dash_app, path: Path) -> tuple[float, dict]:
    """The file chosen in /import's file input in headless Chromium: (seconds until the page shows
    it, the upload's answer as the route gave it)."""
    import logging
    import socket
    import threading

    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from data_access.imports import jobs
    from layouts import import_ids as ids

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    threading.Thread(target=dash_app.run, kwargs={"port": port, "debug": False, "use_reloader": False},
                     daemon=True).start()
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    try:
        base = f"http://127.0.0.1:{port}"
        WebDriverWait(driver, 30).until(lambda d: d.get(f"{base}/login?next=/import") or d.find_elements(By.ID, "username"))
        driver.find_element(By.ID, "username").send_keys("bench-admin")
        driver.find_element(By.ID, "password").send_keys("bench-password-123")
        driver.find_element(By.ID, "sign-in").click()
        file_input = WebDriverWait(driver, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.UPLOAD} input[type=file]"))[0]
        started = time.perf_counter()
        file_input.send_keys(str(path))
        WebDriverWait(driver, 600, poll_frequency=0.1).until(
            lambda d: path.name in d.find_element(By.ID, ids.FILE_SUMMARY).text)
        seconds = time.perf_counter() - started
    finally:
        driver.quit()
    newest = jobs.history(dash_app.server.extensions["tradeboard"].engine, None, limit=1)[0]
    return seconds, {"id": newest["id"], "entity": newest["entity"]}


def run(url: str, redis_url: str, rows: int, entities: list[str], work: Path, browser: bool = False) -> None:
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
        if browser and entity in entities:
            upload_s, record = browser_upload(dash_app, path)
        else:
            started = time.perf_counter()
            with path.open("rb") as body:
                answer = client.post(f"/import/upload?filename={path.name}", data=body,
                                     headers={"Content-Type": "application/octet-stream",
                                              "Origin": "http://localhost", "Content-Length": str(size)})
            upload_s = time.perf_counter() - started
            record = answer.get_json()
            assert answer.status_code == 200, record
        assert record["entity"] == entity, record
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
        line("upload (headless Chromium, the page's file input)" if browser else "upload (POST /import/upload)",
             upload_s, n)
        target = TARGET_S if n <= TARGET_ROWS else None  # the targets are for a 1,000,000-row file
        line("validate (the whole-file check)", check_s, n, target)
        line("commit (with positions, trades, rollups)" if entity == "executions" else "commit", commit_s, n, target)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--entities", nargs="+", default=["signals"], choices=["signals", "executions"])
    parser.add_argument("--postgres-url", default=os.environ.get("TRADEBOARD_TEST_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--browser", action="store_true", help="upload through the page in headless Chromium")
    args = parser.parse_args()

    with cache_on_private_redis() as redis_url, tempfile.TemporaryDirectory() as tmp:
        targets = [] if args.no_sqlite else [("SQLite", lambda: empty_sqlite_url("import"))]
        if args.postgres_url:
            targets.append(("PostgreSQL", lambda: empty_postgres_url(args.postgres_url, PG_DATABASE)))
        for label, make in targets:
            print(f"{label}: {args.rows:,}-row CSV through the import page's path", flush=True)
            run(make(), redis_url, args.rows, args.entities, Path(tmp), args.browser)


if __name__ == "__main__":
    main()
