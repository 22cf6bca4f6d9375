"""The health report: database, Redis, Celery workers and beat, each checked with a short timeout so
the report answers even when a dependency hangs. `/api/v1/health`, the status strip and /ops read it
(through `AppState.health()`)."""

from __future__ import annotations

import concurrent.futures
import time
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:  # pragma: no cover
    from app.extensions import AppState

WORKER_KEY_PATTERN = "tb:worker:*"
REDIS_TIMEOUT = 0.5  # seconds; health must answer even when Redis is a black hole
DATABASE_TIMEOUT = 3.0  # seconds; past this the database counts as down
BEAT_STALE_SECONDS = 90.0  # beat pulses every 30 s: three missed pulses and it counts as gone

# One thread for database checks, so a hung connection cannot hang the health endpoint itself.
_db_pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="tb-health-db")


@lru_cache(maxsize=1)
def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as pkg_version

    try:
        return pkg_version("tradeboard")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def check_database(app_state: AppState) -> dict:
    engine = app_state.engine

    def ping():
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return time.perf_counter() - started

    result = {"ok": False, "latency_ms": None, "dialect": engine.dialect.name}
    future = _db_pool.submit(ping)
    try:
        result.update(ok=True, latency_ms=_ms(future.result(timeout=DATABASE_TIMEOUT)))
    except concurrent.futures.TimeoutError:
        result["error"] = f"no answer within {DATABASE_TIMEOUT:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported as text
        result["error"] = f"{type(exc).__name__}: {exc}"[:300]
    return result


def check_redis_and_workers(app_state: AppState) -> tuple[dict, dict]:
    redis_result = {"ok": False, "latency_ms": None}
    workers = {"ok": False, "count": 0, "last_seen_seconds_ago": None}
    client = app_state.redis(REDIS_TIMEOUT)
    if client is None:
        redis_result["error"] = "REDIS_URL is not set"
        workers["error"] = "no Redis to read heartbeats from"
        return redis_result, workers
    try:
        started = time.perf_counter()
        client.ping()
        redis_result.update(ok=True, latency_ms=_ms(time.perf_counter() - started))
    except Exception as exc:  # noqa: BLE001
        redis_result["error"] = f"{type(exc).__name__}: {exc}"[:300]
        workers["error"] = "Redis is down"
        return redis_result, workers
    try:
        keys = list(client.scan_iter(match=WORKER_KEY_PATTERN, count=200))
        beats = [float(v) for v in client.mget(keys) if v is not None] if keys else []
        workers["count"] = len(beats)
        workers["ok"] = bool(beats)
        if beats:
            workers["last_seen_seconds_ago"] = round(max(0.0, time.time() - max(beats)), 1)
            workers["hosts"] = sorted(k.decode().split(":", 2)[2] for k in keys)
            from tasks.heartbeat import cache_worker_count

            workers["cache_workers"] = cache_worker_count(client)  # they refresh stale sections (tasks/cache.py)
    except Exception as exc:  # noqa: BLE001
        workers["error"] = f"{type(exc).__name__}: {exc}"[:300]
    return redis_result, workers


def check_beat(app_state: AppState, redis_ok: bool = True) -> dict:
    """When Celery beat last proved alive (its pulse task writes ``tb:beat`` every 30 s); ok when
    within BEAT_STALE_SECONDS. Informational: it does not change the overall status."""
    from data_access.task_runs import BEAT_KEY

    beat = {"ok": False, "last_seen": None, "last_seen_seconds_ago": None}
    client = app_state.redis(REDIS_TIMEOUT)
    if client is None or not redis_ok:
        beat["error"] = "no Redis to read beat's pulse from"
        return beat
    try:
        value = client.get(BEAT_KEY)
    except Exception as exc:  # noqa: BLE001
        beat["error"] = f"{type(exc).__name__}: {exc}"[:300]
        return beat
    if value:
        seen = float(value)
        ago = round(max(0.0, time.time() - seen), 1)
        beat.update(ok=ago <= BEAT_STALE_SECONDS, last_seen=seen, last_seen_seconds_ago=ago)
    return beat


def health_report(app_state: AppState) -> tuple[dict, int]:
    """``(report, http_status)``: 503 when the database does not answer, else 200.

    status is "healthy" with database, Redis and at least one worker up, "degraded" when only
    the database is, "unhealthy" without the database.
    """
    database = check_database(app_state)
    redis_result, workers = check_redis_and_workers(app_state)
    if not database["ok"]:
        status = "unhealthy"
    elif redis_result["ok"] and workers["ok"]:
        status = "healthy"
    else:
        status = "degraded"
    report = {
        "status": status,
        "version": version(),
        "uptime_seconds": round(app_state.uptime_seconds(), 1),
        "database": database,
        "redis": redis_result,
        "workers": workers,
        "beat": check_beat(app_state, redis_result["ok"]),
    }
    return report, (200 if database["ok"] else 503)
