"""What the dashboard benchmarks share: a private Redis for the section cache, the seeded
databases, and one line per timing next to its target."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.services import PrivateRedis
from data_access.cache import sections


@contextmanager
def cache_on_private_redis() -> Iterator[str]:
    """The section cache on a throwaway redis-server (its URL yielded), stopped at the end."""
    redis = PrivateRedis(tempfile.mkdtemp(prefix="tb-bench-redis-")).start()
    try:
        sections.configure(cache_type="RedisCache", redis_url=redis.url, ttl={"short": 30, "medium": 300, "long": 3600})
        yield redis.url
    finally:
        redis.stop()


def seeded_url(scale: str) -> str:
    """var/bench/<scale>.db, migrated and seeded once (kept, so later runs skip the seeding)."""
    from data_access.migrate import is_empty, upgrade
    from data_access.seed import seed

    path = Path(__file__).resolve().parent.parent / "var" / "bench" / f"{scale}.db"
    url = f"sqlite:///{path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    if is_empty(url):
        started = time.perf_counter()
        seed(url, scale=scale, progress=True)
        print(f"seeded {scale} in {time.perf_counter() - started:.1f} s")
    return url


def report(label: str, timings: dict[str, list[float]], targets_ms: dict[str, float]) -> None:
    """Median, min and count of each timing in milliseconds, with its target and verdict."""
    for kind, target in targets_ms.items():
        median = statistics.median(timings[kind])
        verdict = "ok" if median < target else "MISSED"
        print(f"{label} {kind:<20}: median {median:8.2f} ms  (min {min(timings[kind]):.2f}, n={len(timings[kind])})  "
              f"target < {target:.0f} ms  {verdict}")
    print(f"{label} SQL statements per cold build: {timings['statements'][0]}")
