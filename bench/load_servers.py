"""The load test's servers (bench/load.py): the seeded database with an analyst's token, gunicorn as
`tradeboard run` starts it, the cache queue's worker, and plain HTTP GETs to probe them."""

from __future__ import annotations

import datetime as dt
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.cli import cache_worker_argv
from app.cli import gunicorn_argv as web_gunicorn_argv
from app.services import Supervisor

ROOT = Path(__file__).resolve().parent.parent
USERNAME = "load-analyst"
# gunicorn as `tradeboard run` starts it (app.cli run)
WORKERS = 2


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
