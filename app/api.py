"""The JSON API: blueprint ``/api/v1``. Only health for now; dashboards join it as they land.

Errors have one shape everywhere: ``{"error": {"code", "message", "details"}}`` (see
`app.auth.json_error`).
"""

from __future__ import annotations

import concurrent.futures
import time
from functools import lru_cache

import flask
from werkzeug.exceptions import MethodNotAllowed
from sqlalchemy import text

from app.auth import json_error, json_response
from app.extensions import AppState, state

bp = flask.Blueprint("api_v1", __name__, url_prefix="/api/v1")

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


@bp.get("/health")
def health():
    report, status = health_report(state())
    return json_response(report, status, headers={"Cache-Control": "no-store"})


def _api_catch_all():
    """before_request: Dash's catch-all page route would answer unknown /api/ paths with its HTML index."""
    if not flask.request.path.startswith("/api/"):
        return None
    rule = flask.request.url_rule
    if rule is None and isinstance(flask.request.routing_exception, MethodNotAllowed):
        if _methods_of_real_endpoint():
            return None  # a real endpoint, another method: the 405 handler answers
        return json_error(404, "not_found", f"No endpoint at {flask.request.path}.")  # only Dash's catch-all matched
    if rule is None or "<path:" in rule.rule or rule.rule == "/":
        allowed = _methods_of_real_endpoint()
        if allowed:  # e.g. GET /api/v1/backtests, which only takes POST: Dash's catch-all matched the GET
            return json_error(405, "method_not_allowed", f"{flask.request.method} is not allowed here.",
                              {"allowed": allowed}, headers={"Allow": ", ".join(allowed)})
        return json_error(404, "not_found", f"No endpoint at {flask.request.path}.")
    return None


def _methods_of_real_endpoint() -> list[str]:
    """The methods a real (non catch-all) endpoint at this path answers."""
    from werkzeug.exceptions import HTTPException

    adapter = flask.current_app.url_map.bind_to_environ(flask.request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            rule, _args = adapter.match(method=method, return_rule=True)
        except HTTPException:
            continue
        if "<path:" not in rule.rule and rule.rule != "/":
            allowed.append(method)
    return allowed


def _api_not_found(error):
    if flask.request.path.startswith("/api/"):
        return json_error(404, "not_found", f"No endpoint at {flask.request.path}.")
    return error


def _api_method_not_allowed(error):
    if flask.request.path.startswith("/api/"):
        return json_error(405, "method_not_allowed", f"{flask.request.method} is not allowed here.")
    return error


def init_app(server: flask.Flask) -> None:
    server.register_blueprint(bp)
    server.before_request(_api_catch_all)
    server.register_error_handler(404, _api_not_found)
    server.register_error_handler(405, _api_method_not_allowed)
