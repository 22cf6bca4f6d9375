"""The section cache: every dashboard section is memoized in Redis through this module.

- Storage is flask-caching's ``RedisCache`` backend (or its ``NullCache`` when asked for by name).
- TTL tiers: ``realtime`` (never cached), ``short``, ``medium``, ``long`` (seconds from settings).
- Keys are built from primitive arguments only, plus the generation number of every data family
  the section reads; a write bumps its family's generation, so dependent keys miss on their next
  read and unrelated ones stay.
- Each value is stored with the time it was computed. It is *fresh* for its tier's TTL and kept
  one more TTL as *stale*: a stale value is served at once to every reader, while the one reader
  that wins a short Redis lock has it recomputed on a background thread of its own process, or, when
  the web app sets ``refresh_elsewhere`` (CACHE_REFRESH_ON_WORKERS, tasks/cache.py), by a worker of
  the cache queue while one is alive.
- Single-flight: a missing or stale key is recomputed by the one process that wins a short Redis
  lock; on a miss the others wait for its result (up to ``wait_seconds``) instead of all hitting
  the database.
- Redis down: sections are computed straight from the database (degraded mode, logged once); Redis
  is tried again every ``retry_seconds`` and, once back, every generation is bumped, because
  writes made during the outage could not invalidate anything.

Where things are: `keys` (prefix, tiers, key fragments), `values` (what a read returns and what a
refresh hands over), `reports` (which sections a request read), `section_cache` (`SectionCache`: the
read path, generations, hit counts, degraded mode) and `memoize` (`cached_section` and the process's
``sections``).
"""

from data_access.cache.keys import FAMILY_STATS_KEY, KEY_PREFIX, TIERS, key_part
from data_access.cache.memoize import cached_section, sections
from data_access.cache.reports import CacheReport, cache_report, not_reported
from data_access.cache.section_cache import REFRESH_THREADS, CacheNotConfigured, SectionCache, refresh_pool
from data_access.cache.values import Cached, SectionRefresh, StaleSection

__all__ = [
    "FAMILY_STATS_KEY", "KEY_PREFIX", "REFRESH_THREADS", "TIERS",
    "CacheNotConfigured", "CacheReport", "Cached", "SectionCache", "SectionRefresh", "StaleSection",
    "cache_report", "cached_section", "key_part", "not_reported", "refresh_pool", "sections",
]
