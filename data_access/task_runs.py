"""What the background tasks did, kept in Redis so every process (web, workers, beat) sees one view.

- ``tb:task:<name>`` (hash): ``runs``, ``failures``, ``retries``, ``last_start``, ``last_end``,
  ``last_duration_ms``, ``last_status`` (started / success / failure / retry), ``last_error``.
- ``tb:task-runs`` (list, newest first, the last ``RECENT`` runs): one JSON object per finished run.
- ``tb:beat`` : the unix time beat last proved alive (its pulse task ran).

Writers are the Celery signal handlers in ``tasks/runs.py``; readers are ``/ops``, ``/metrics``
and health. Every Redis error is swallowed: recording must never fail a task.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis

from data_access.cache import KEY_PREFIX, sections

log = logging.getLogger(__name__)

RECENT = 200
TASK_KEY = f"{KEY_PREFIX}task:"
RECENT_KEY = f"{KEY_PREFIX}task-runs"
BEAT_KEY = f"{KEY_PREFIX}beat"


def _client() -> redis.Redis | None:
    return sections.redis if sections.enabled else None


def _safely(action, default=None):
    client = _client()
    if client is None:
        return default
    try:
        return action(client)
    except redis.RedisError as exc:
        log.warning("task run records unavailable (Redis): %s", exc)
        return default


def record_start(name: str, task_id: str, at: float | None = None) -> None:
    at = time.time() if at is None else at
    _safely(lambda r: r.hset(TASK_KEY + name, mapping={"last_start": at, "last_status": "started",
                                                        "last_task_id": task_id}))


def record_end(name: str, task_id: str, status: str, started: float | None, error: str | None = None,
               recent: bool = True) -> None:
    """``status``: success, failure or retry; ``recent``: also list it among the recent runs."""
    now = time.time()
    duration_ms = round((now - started) * 1000.0, 1) if started else None
    entry = {"task": name, "task_id": task_id, "status": status, "started": started, "finished": now,
             "duration_ms": duration_ms, "error": (error or "")[:500] or None}

    def write(r: redis.Redis) -> None:
        pipe = r.pipeline(transaction=False)
        key = TASK_KEY + name
        pipe.hset(key, mapping={"last_end": now, "last_status": status, "last_duration_ms": duration_ms or "",
                                **({"last_error": entry["error"]} if error else {})})
        pipe.hincrby(key, {"success": "runs", "failure": "failures", "retry": "retries"}[status], 1)
        if recent:
            pipe.lpush(RECENT_KEY, json.dumps(entry))
            pipe.ltrim(RECENT_KEY, 0, RECENT - 1)
        pipe.execute()

    _safely(write)


def record_beat_pulse() -> None:
    _safely(lambda r: r.set(BEAT_KEY, time.time(), ex=24 * 3600))


def beat_last_seen() -> float | None:
    value = _safely(lambda r: r.get(BEAT_KEY))
    return float(value) if value else None


def _number(value: bytes | None) -> float | None:
    try:
        return float(value) if value not in (None, b"") else None
    except ValueError:
        return None


def task_stats(names: list[str]) -> dict[str, dict[str, Any]]:
    """Per task name: runs, failures, retries, last start/end/duration/status/error."""
    def read(r: redis.Redis) -> list[dict]:
        pipe = r.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(TASK_KEY + name)
        return pipe.execute()

    raw = _safely(read, default=[{} for _ in names])
    out = {}
    for name, fields in zip(names, raw):
        text = {k.decode(): v.decode() for k, v in fields.items()}
        out[name] = {
            "runs": int(text.get("runs", 0)), "failures": int(text.get("failures", 0)),
            "retries": int(text.get("retries", 0)), "last_start": _number(fields.get(b"last_start")),
            "last_end": _number(fields.get(b"last_end")), "last_duration_ms": _number(fields.get(b"last_duration_ms")),
            "last_status": text.get("last_status"), "last_error": text.get("last_error"),
        }
    return out


def known_tasks() -> list[str]:
    """Names of every task that has a record."""
    keys = _safely(lambda r: [k.decode() for k in r.scan_iter(match=TASK_KEY + "*", count=500)], default=[])
    return sorted(k[len(TASK_KEY):] for k in keys)


def recent_runs(limit: int = 50) -> list[dict[str, Any]]:
    raw = _safely(lambda r: r.lrange(RECENT_KEY, 0, max(0, limit - 1)), default=[])
    return [json.loads(item) for item in raw]
