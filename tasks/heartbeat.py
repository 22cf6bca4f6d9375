"""Worker heartbeat: each worker writes ``tb:worker:<hostname>`` = unix time, expiring after 30 s,
every 10 s, from a daemon thread started when the worker is ready. `/api/v1/health` counts
these keys. A worker that stops cleanly deletes its key; one that dies disappears within 30 s.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import signals

from tasks import celery_app

log = logging.getLogger(__name__)

KEY_PREFIX = "tb:worker:"
INTERVAL_SECONDS = 10.0
EXPIRY_SECONDS = 30

_stop = threading.Event()
_thread: threading.Thread | None = None
_hostname: str | None = None


def key_for(hostname: str) -> str:
    return f"{KEY_PREFIX}{hostname}"


def _client():
    from app.config import Settings
    from app.extensions import make_redis

    url = Settings.from_env().REDIS_URL
    return make_redis(url, timeout=2.0) if url else None


def beat_once(client, hostname: str) -> None:
    client.set(key_for(hostname), f"{time.time():.3f}", ex=EXPIRY_SECONDS)


def _run(hostname: str, interval: float) -> None:
    client = _client()
    if client is None:
        log.warning("heartbeat: REDIS_URL is not set; not writing heartbeats")
        return
    failing = False
    while True:
        try:
            beat_once(client, hostname)
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
        client.delete(key_for(hostname))
    except Exception:  # noqa: BLE001
        pass


def start(hostname: str, interval: float = INTERVAL_SECONDS) -> threading.Thread:
    global _thread, _hostname
    stop()
    _stop.clear()
    _hostname = hostname
    _thread = threading.Thread(target=_run, args=(hostname, interval), name="tb-heartbeat", daemon=True)
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
    start(hostname)
    log.info("heartbeat: %s every %.0f s", key_for(hostname), INTERVAL_SECONDS)


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
    """Queue a warm-up of every dashboard (it runs like any task: never in a user's request)."""
    from app.config import Settings

    if Settings.from_env().WARM_UP_AT_WORKER_START:
        celery_app.send_task("tasks.dashboards.refresh_all_dashboards")
        log.info("warm-up queued: every dashboard")
