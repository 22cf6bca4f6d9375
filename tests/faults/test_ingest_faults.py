"""The ingest path under faults, with real processes: Redis stopped while a batch lands and restarted
with the keys it had (the rows land, and once Redis answers again no dashboard serves what it cached
before them), and a gunicorn worker
SIGKILLed in the middle of a batch's transaction (the batch is absent, and whole once re-sent)."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

from app.auth import create_token, create_user
from app.services import PrivateRedis
from data_access.migrate import upgrade
from tests.app.test_ingest_api import as_csv, random_book
from tests.conftest import build_app
from tests.faults.test_faults import Served

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def ingest_token(dash_app) -> dict[str, str]:
    with dash_app.server.extensions["tradeboard"].session() as session:
        create_user(session, "feed", "ingest", password="feed-password-123")
    with dash_app.server.extensions["tradeboard"].session() as session:
        return {"Authorization": f"Bearer {create_token(session, 'feed', 'faults')}"}


def test_signals_ingested_while_redis_is_down_land_and_show_once_it_is_back(app_settings, tmp_path):
    redis = PrivateRedis(tmp_path / "redis").start()
    settings = dataclasses.replace(app_settings, REDIS_URL=redis.url, CACHE_RETRY_SECONDS=1.0)
    dash_app = build_app(settings)
    served, feed = Served(dash_app), ingest_token(dash_app)
    admin = {"Authorization": f"Bearer {create_token_for(dash_app, 'admin')}"}
    book = random_book(29, strategies=("Mean Rev",), developer=None)
    url = served.url + "/api/v1/dashboards/signal-sender?strategy_name=Mean%20Rev&time_range=7d"
    try:
        for entity in ("accounts", "strategies"):
            assert requests.post(f"{served.url}/api/v1/ingest/{entity}", data=as_csv(book[entity]),
                                 headers={**feed, "Content-Type": "text/csv"}, timeout=30).status_code == 200
        before = requests.get(url, headers=admin, timeout=30).json()
        assert before["performance"]["total_signals_sent"] == 0
        assert requests.get(url, headers=admin, timeout=30).json()["metadata"]["cached"] is True

        import redis as redis_client

        redis_client.Redis.from_url(redis.url).save()  # the restarted server comes back with its cached keys
        redis.stop()
        try:
            landed = requests.post(f"{served.url}/api/v1/ingest/signals", data=as_csv(book["signals"]),
                                   headers={**feed, "Content-Type": "text/csv"}, timeout=60)
        finally:
            redis.start()  # the same port and folder: dump.rdb is loaded
        assert landed.status_code == 200 and landed.json()["inserted"] == len(book["signals"])

        deadline, doc = time.monotonic() + 15, None
        while time.monotonic() < deadline:
            doc = requests.get(url, headers=admin, timeout=30).json()
            if not doc["metadata"].get("degraded"):
                break
            time.sleep(0.3)
        assert doc["performance"]["total_signals_sent"] == len(book["signals"]), "a pre-outage value was served"
    finally:
        served.stop()
        redis.stop()


def create_token_for(dash_app, username: str) -> str:
    with dash_app.server.extensions["tradeboard"].session() as session:
        return create_token(session, username, "faults")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def batch_in_flight(engine) -> bool:
    """The batch holds the ingest lock: its transaction is open."""
    from data_access.ingest.batch import ADVISORY_LOCK

    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                      "AND objid = :key"), {"key": ADVISORY_LOCK}).scalar())


def waits_on(engine, table: str) -> bool:
    """Some backend waits for a lock on ``table``."""
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = :table AND NOT l.granted"), {"table": table}).scalar())


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


SEND = ("import sys, requests\n"
        "try:\n"
        "    requests.post(sys.argv[1], data=open(sys.argv[2], 'rb').read(),"
        " headers={'Authorization': sys.argv[3], 'Content-Type': 'text/csv'}, timeout=120)\n"
        "except requests.RequestException:\n"
        "    pass\n")


def test_a_worker_killed_inside_a_batch_leaves_it_absent_and_a_resend_lands_it_whole(postgres_url, redis_url, tmp_path):
    """The fills batch is held after writing its fills, while it waits to write the positions they derive,
    and its worker is killed there."""
    from app.config import Settings

    settings = Settings(DATABASE_URL=postgres_url, REDIS_URL=redis_url, VAR_DIR=str(tmp_path / "var"),
                        SECRET_KEY="test-secret-key-not-for-production", CACHE_TYPE="RedisCache")
    upgrade(postgres_url)
    dash_app = build_app(settings)
    feed = ingest_token(dash_app)
    dash_app.server.extensions["tradeboard"].engine.dispose()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "SECRET_KEY": settings.SECRET_KEY,
           "VAR_DIR": settings.VAR_DIR}
    master = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "4", "--timeout", "120",
                               "-b", f"127.0.0.1:{port}", "wsgi:server"], cwd=PROJECT_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base, engine = f"http://127.0.0.1:{port}", create_engine(postgres_url)
    book = random_book(31, strategies=("Mean Rev",), developer=None)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/api/v1/health", timeout=10).status_code in (200, 503):
                    break
            except requests.RequestException:  # not listening yet, or still importing the app
                time.sleep(0.3)
        for entity in ("accounts", "strategies", "signals"):
            assert requests.post(f"{base}/api/v1/ingest/{entity}", data=as_csv(book[entity]),
                                 headers={**feed, "Content-Type": "text/csv"}, timeout=30).status_code == 200
        (worker,) = children(master.pid)
        body = tmp_path / "executions.csv"
        body.write_bytes(as_csv(book["executions"]))
        blocker = engine.connect()  # writes to positions wait for this lock; reads and other writes do not
        blocking = blocker.begin()
        blocker.execute(text("LOCK TABLE positions IN SHARE ROW EXCLUSIVE MODE"))
        try:
            sender = subprocess.Popen([sys.executable, "-c", SEND, f"{base}/api/v1/ingest/executions", str(body),
                                       feed["Authorization"]])
            deadline = time.monotonic() + 60
            while not (batch_in_flight(engine) and waits_on(engine, "positions")):
                assert time.monotonic() < deadline, "the batch never reached the positions"
                time.sleep(0.02)
            os.kill(worker, signal.SIGKILL)
            sender.wait(60)
        finally:
            blocking.rollback()
            blocker.close()
        deadline = time.monotonic() + 30
        while batch_in_flight(engine) and time.monotonic() < deadline:
            time.sleep(0.1)  # PostgreSQL notices the dead connection and rolls back
        assert (count(engine, "executions"), count(engine, "positions"), count(engine, "closed_trades")) == (0, 0, 0)

        deadline = time.monotonic() + 60
        while True:  # gunicorn's master starts a new worker
            try:
                resent = requests.post(f"{base}/api/v1/ingest/executions", data=body.read_bytes(),
                                       headers={**feed, "Content-Type": "text/csv"}, timeout=120)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline
                time.sleep(0.3)
        assert resent.status_code == 200 and resent.json()["inserted"] == len(book["executions"])
        assert count(engine, "executions") == len(book["executions"])
        assert count(engine, "positions") > 0 and count(engine, "closed_trades") > 0
    finally:
        os.killpg(master.pid, signal.SIGKILL)
        master.wait(10)
        engine.dispose()
