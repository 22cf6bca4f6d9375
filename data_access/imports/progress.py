"""A running import's progress in Redis (the database's write lock is the commit's until it ends,
so progress cannot be written there): rows written, of how many, since when."""

from __future__ import annotations

import time

import orjson

TTL_SECONDS = 3600
REPORT_EVERY_SECONDS = 0.5


def shared_redis():
    """The section cache's Redis, or None when there is none (CACHE_TYPE=NullCache)."""
    from data_access.cache import sections

    try:
        return sections.redis
    except Exception:  # noqa: BLE001 - no Redis: no progress, the import goes on
        return None


def key(import_id: int) -> str:
    return f"tb:import:{import_id}:progress"


class Reporter:
    """``reporter(n)`` counts n more rows written; Redis hears of it at most twice a second. A Redis
    that does not answer costs the import nothing."""

    def __init__(self, redis, import_id: int, phase: str, total: int) -> None:
        self.redis, self.import_id, self.total = redis, import_id, total
        self.written, self.started, self.last = 0, time.time(), 0.0
        self.phase = phase
        self.send(force=True)

    def __call__(self, n: int) -> None:
        self.written += n
        self.send()

    def set_phase(self, phase: str, total: int | None = None) -> None:
        self.phase = phase
        if total is not None:
            self.total, self.written, self.started = total, 0, time.time()
        self.send(force=True)

    def send(self, force: bool = False) -> None:
        now = time.time()
        if self.redis is None or (not force and now - self.last < REPORT_EVERY_SECONDS):
            return
        self.last = now
        body = {"phase": self.phase, "written": self.written, "total": self.total, "started": self.started,
                "at": now}
        try:
            self.redis.set(key(self.import_id), orjson.dumps(body), ex=TTL_SECONDS)
        except Exception:  # noqa: BLE001 - progress is a courtesy, never a failure
            self.redis = None


def read(redis, import_id: int) -> dict | None:
    if redis is None:
        return None
    try:
        value = redis.get(key(import_id))
    except Exception:  # noqa: BLE001
        return None
    return orjson.loads(value) if value else None
