"""Worker heartbeat: each worker writes ``tb:worker:<hostname>`` = unix time, expiring after 30 s,
every 10 s, from a daemon thread started when the worker is ready. `/api/v1/health` counts
these keys. A worker that stops cleanly deletes its key; one that dies disappears within 30 s.

A worker that consumes the ``cache`` queue (tasks/cache.py) also keeps its hostname in the sorted
set ``tb:cache-workers``, scored by the time of its last beat: the web hands stale refreshes over
only while one has beaten within the last 30 s (one ZCOUNT, never a scan of the keyspace).
"""

from __future__ import annotations

import logging
import threading
import time

from celery import signals

from tasks import CACHE_QUEUE, celery_app

log = logging.getLogger(__name__)

KEY_PREFIX = "tb:worker:"
CACHE_WORKERS_KEY = "tb:cache-workers"
INTERVAL_SECONDS = 10.0
EXPIRY_SECONDS = 30

_stop = threading.Event()
_thread: threading.Thread | None = None
_hostname: str | None = None
_queues: tuple[str, ...] = ()


def key_for(hostname: str) -> str:
    return f"{KEY_PREFIX}{hostname}"


def _client():
    from app.config import Settings
    from data_access.redis_client import make_redis

    url = Settings.from_env().REDIS_URL
    return make_redis(url, timeout=2.0) if url else None


def beat_once(client, hostname: str, queues: tuple[str, ...] = ()) -> None:
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.set(key_for(hostname), f"{now:.3f}", ex=EXPIRY_SECONDS)
    if _consumes_cache_queue(queues):
        pipe.zadd(CACHE_WORKERS_KEY, {hostname: now})
        pipe.zremrangebyscore(CACHE_WORKERS_KEY, "-inf", now - EXPIRY_SECONDS)  # the dead ones
    pipe.execute()


def cache_worker_count(client) -> int:
    """How many workers consuming the cache queue have beaten within the last EXPIRY_SECONDS."""
    return int(client.zcount(CACHE_WORKERS_KEY, time.time() - EXPIRY_SECONDS, "+inf"))


def _consumes_cache_queue(queues: tuple[str, ...]) -> bool:
    return CACHE_QUEUE in queues


def _forget(client, hostname: str, queues: tuple[str, ...]) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.delete(key_for(hostname))
    if _consumes_cache_queue(queues):
        pipe.zrem(CACHE_WORKERS_KEY, hostname)
    pipe.execute()


def _run(hostname: str, interval: float, queues: tuple[str, ...]) -> None:
    client = _client()
    if client is None:
        log.warning("heartbeat: REDIS_URL is not set; not writing heartbeats")
        return
    failing = False
    while True:
        try:
            beat_once(client, hostname, queues)
            if failing:
                log.info("heartbeat: Redis is back")
            failing = False
        except Exception as exc:  # noqa: BLE001 - keep beating through Redis outages
            if not failing:
                log.warning("heartbeat: cannot write to Redis: %s", exc)
            failing = True
        if _stop.wait(interval):
            break
    try:
        _forget(client, hostname, queues)
    except Exception:  # noqa: BLE001
        pass


def start(hostname: str, interval: float = INTERVAL_SECONDS, queues: tuple[str, ...] = ()) -> threading.Thread:
    """Beat for ``hostname`` every ``interval`` seconds; ``queues``: the queues the worker consumes."""
    global _thread, _hostname, _queues
    stop()
    _stop.clear()
    _hostname, _queues = hostname, tuple(queues)
    _thread = threading.Thread(target=_run, args=(hostname, interval, _queues), name="tb-heartbeat", daemon=True)
    _thread.start()
    return _thread


def stop(timeout: float = 3.0) -> None:
    global _thread
    _stop.set()
    if _thread is not None:
        _thread.join(timeout)
    _thread = None


@signals.worker_ready.connect
def _on_worker_ready(sender=None, **_kwargs) -> None:
    hostname = getattr(sender, "hostname", None) or "unknown"
    queues = tuple(sender.app.amqp.queues.consume_from) if sender is not None else ()
    start(hostname, queues=queues)
    log.info("heartbeat: %s every %.0f s (queues: %s)", key_for(hostname), INTERVAL_SECONDS, ", ".join(queues))


@signals.worker_shutdown.connect
def _on_worker_shutdown(**_kwargs) -> None:
    stop()


@celery_app.task(name="tasks.heartbeat.beat_pulse", time_limit=30, soft_time_limit=20)
def beat_pulse() -> None:
    """Scheduled by beat every 30 s: when it runs, beat (and a worker) are alive."""
    from data_access import task_runs

    task_runs.record_beat_pulse()


@signals.worker_ready.connect
def _warm_up_at_start(sender=None, **_kwargs) -> None:
    """Queue a warm-up of every dashboard (it runs like any task: never in a user's request); only
    from a worker of the default queue, not from a cache worker started beside it."""
    from app.config import Settings

    consumes_default = sender is None or celery_app.conf.task_default_queue in sender.app.amqp.queues.consume_from
    if consumes_default and Settings.from_env().WARM_UP_AT_WORKER_START:
        celery_app.send_task("tasks.dashboards.refresh_all_dashboards")
        log.info("warm-up queued: every dashboard")
