"""Stale sections refreshed on a cache worker, off the web process.

A request that finds a section stale serves it at once and wins that key's lock; the refresh itself
(a cold build's worth of SQL and pandas, ~110 ms for the client dashboard's sections) runs by default
on a thread of the web worker, where it holds the GIL against that worker's requests. Here it is a
task on the ``cache`` queue, which a worker started with ``-Q cache`` takes at once: it never waits
behind sweeps or warm-ups on the default queue.

Opt-in: with CACHE_REFRESH_ON_WORKERS=true the web app installs ``CacheWorkers`` and ``tradeboard run``
starts a cache worker. In full load tests it did worse than the web's own thread, for a reason not
yet found (docs/performance.md, "Dropped"). The web hands a refresh over only while such a worker is
alive (its heartbeat in Redis: ``tasks.heartbeat``); otherwise, or when sending fails, it refreshes
on its own thread.
"""

from __future__ import annotations

import logging
import time

from celery import signals

from data_access.cache import KEY_PREFIX
from tasks import CACHE_QUEUE, celery_app

log = logging.getLogger(__name__)

WORKER_CHECK_SECONDS = 5.0  # how long the web trusts its last look at the cache workers' heartbeats
# A handed-over section's lock is shortened to this, and its message expires with it: a cache worker
# takes a message within milliseconds, and extends the lock when it starts. If none takes it (the
# worker was killed, or is swamped), the lock lapses after seconds, not CACHE_LOCK_SECONDS, and the next
# reader tries again; meanwhile readers keep getting the stale value.
HANDOVER_SECONDS = 5


_in_a_worker = False


@signals.worker_init.connect
def _refresh_here_in_workers(**_kwargs) -> None:
    """A worker builds the Dash app too (app/dash_jobs.py), and with it this hand-over: a stale input
    a worker reads while computing something else is refreshed right there, not queued for itself."""
    global _in_a_worker
    _in_a_worker = True


@celery_app.task(name="tasks.cache.refresh_stale_sections", ignore_result=True, time_limit=120, soft_time_limit=100)
def refresh_stale_sections(messages: list[dict]) -> int:
    """Recompute the stale sections one reader found (a document's, in one task: one message costs the
    web ~0.8 ms of CPU) and store each under the key it was read from (``SectionCache.refresh_sections``);
    returns how many were refreshed (a section whose lock had lapsed is left alone)."""
    from data_access.cache import SectionRefresh, sections

    import_section_modules()
    return len(sections.refresh_sections([SectionRefresh.from_message(message) for message in messages]))


def import_section_modules() -> None:
    """Every module with cached sections, so ``sections.functions`` knows each section by name."""
    from data_access import warming  # noqa: F401 - imports the dashboards' data_access modules
    from data_access import playback, run_detail  # noqa: F401


class CacheWorkers:
    """The web side: ``sections.refresh_elsewhere`` while a cache worker is alive."""

    def __init__(self, redis_client) -> None:
        self.redis = redis_client
        self._alive_until = 0.0
        self._checked_at = float("-inf")

    def alive(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at >= WORKER_CHECK_SECONDS:
            from tasks.heartbeat import cache_worker_count

            self._checked_at = now
            try:
                self._alive_until = now + WORKER_CHECK_SECONDS if cache_worker_count(self.redis) else 0.0
            except Exception as exc:  # noqa: BLE001 - Redis trouble: refresh here
                log.debug("cannot read the cache workers' heartbeats: %s", exc)
                self._alive_until = 0.0
        return now < self._alive_until

    def __call__(self, refreshes: list) -> bool:
        """Hand ``refreshes`` (SectionRefresh) to a cache worker as one task; False to have them done here."""
        if _in_a_worker or not self.alive():
            return False
        try:
            self._expire_locks(refreshes, HANDOVER_SECONDS)
            refresh_stale_sections.apply_async(args=[[refresh.to_message() for refresh in refreshes]],
                                               queue=CACHE_QUEUE, expires=HANDOVER_SECONDS)
        except Exception as exc:  # noqa: BLE001 - Redis or the broker is unreachable: refresh here
            log.warning("cannot queue the refresh of %d stale sections: %s; refreshing here", len(refreshes), exc)
            self._alive_until = 0.0
            self._restore_locks(refreshes)
            return False
        return True

    def _restore_locks(self, refreshes: list) -> None:
        """The locks' full time again, for the refresh done here instead."""
        from data_access.cache import sections

        try:
            self._expire_locks(refreshes, sections.lock_seconds)
        except Exception:  # noqa: BLE001 - Redis is gone too: the refresh here finds out
            pass

    def _expire_locks(self, refreshes: list, seconds: int) -> None:
        """Every refresh's lock to lapse in ``seconds``, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for refresh in refreshes:
            pipe.expire(f"{KEY_PREFIX}lock:{refresh.key}", seconds)
        pipe.execute()

