"""What the dashboard benchmarks share: a private Redis for the section cache, the seeded
databases, and one line per timing next to its target."""

from __future__ import annotations

import datetime as dt
import json
import os
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


SCALES = ("demo", "large", "xlarge")  # what --scale accepts


def _bench_path(scale: str) -> Path:
    return Path(__file__).resolve().parent.parent / "var" / "bench" / f"{scale}.db"


def record_seeding(scale: str, seconds: float) -> None:
    """Keep how long seeding var/bench/<scale>.db took, for the runs that reuse it."""
    _bench_path(scale).with_suffix(".seeding.json").write_text(json.dumps({
        "seconds": round(seconds, 1), "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count()}))


def seeded_url(scale: str) -> str:
    """var/bench/<scale>.db, migrated and seeded once (kept, so later runs skip the seeding); says
    how long the seeding took, then or when it was done."""
    from data_access.migrate import is_empty, upgrade
    from data_access.seed import seed

    path = _bench_path(scale)
    url = f"sqlite:///{path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    if is_empty(url):
        print(f"seeding {scale} into {path} (once; later runs reuse it)", flush=True)
        started = time.perf_counter()
        seed(url, scale=scale, progress=True)
        seconds = time.perf_counter() - started
        record_seeding(scale, seconds)
        print(f"seeded {scale} in {seconds:.1f} s")
    else:
        record = path.with_suffix(".seeding.json")
        if record.exists():
            done = json.loads(record.read_text())
            print(f"reusing {path}: seeding it took {done['seconds']:.1f} s ({done['at']}, {done['cores']} cores)")
        else:
            print(f"reusing {path}: seeding time not recorded")
    return url


def growth(label: str, medians: dict[str, float], limit: float = 1.5) -> None:
    """Each scale's figure beside `large`'s, with the ratio (issue 22: xlarge at most 1.5x large)."""
    base = medians.get("large")
    for scale, value in medians.items():
        if scale in ("large", "demo") or base is None:
            continue
        ratio = value / base
        print(f"growth {label:<24}: large {base:9.2f} ms  {scale} {value:9.2f} ms  ratio {ratio:5.2f}x  "
              f"target <= {limit}x  {'ok' if ratio <= limit else 'MISSED'}")


def report(label: str, timings: dict[str, list[float]], targets_ms: dict[str, float]) -> dict[str, float]:
    """Median, min and count of each timing in milliseconds, with its target and verdict; returns
    the medians."""
    medians = {}
    for kind, target in targets_ms.items():
        median = medians[kind] = statistics.median(timings[kind])
        verdict = "ok" if median < target else "MISSED"
        print(f"{label} {kind:<20}: median {median:8.2f} ms  (min {min(timings[kind]):.2f}, n={len(timings[kind])})  "
              f"target < {target:.0f} ms  {verdict}")
    print(f"{label} SQL statements per cold build: {timings['statements'][0]}")
    return medians
