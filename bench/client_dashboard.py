"""Client dashboard build times, cold (empty cache) and warm, at `demo` and `large` scale (a
benchmark, not a test).

    python bench/client_dashboard.py [--scale demo large] [--database-url URL] [--repeat N]

Each scale is seeded once into var/bench/<scale>.db (kept, so later runs skip the seeding) unless
--database-url points at an already seeded database. A private redis-server holds the cache.
Targets: warm under 5 ms, cold under 500 ms at `large`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from data_access import client_dashboard as cd  # noqa: E402
from data_access.cache import sections  # noqa: E402
from data_access.db import configure_database  # noqa: E402
from app.services import PrivateRedis  # noqa: E402

TARGETS_MS = {"warm": 5.0, "cold": 500.0}


def seeded_url(scale: str) -> str:
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


def measure(url: str, repeat: int) -> dict[str, list[float]]:
    engine = configure_database(url)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(1))
    timings = {"cold": [], "warm": []}
    for _ in range(repeat):
        sections.redis.flushdb()
        statements.clear()
        for time_range in ("90d",):
            started = time.perf_counter()
            cd.client_dashboard(time_range)
            timings["cold"].append((time.perf_counter() - started) * 1000)
        cold_statements = len(statements)
        for _ in range(20):
            started = time.perf_counter()
            cd.client_dashboard("90d")
            timings["warm"].append((time.perf_counter() - started) * 1000)
    timings["statements"] = [cold_statements]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", nargs="+", default=["demo", "large"], choices=["demo", "large"])
    parser.add_argument("--database-url", help="an already seeded database (then only one scale is measured)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    redis = PrivateRedis(tempfile.mkdtemp(prefix="tb-bench-redis-")).start()
    try:
        sections.configure(cache_type="RedisCache", redis_url=redis.url, ttl={"short": 30, "medium": 300, "long": 3600})
        print(f"client dashboard benchmark · {os.cpu_count()} cores · time range 90d")
        runs = [("custom", args.database_url)] if args.database_url else [(s, seeded_url(s)) for s in args.scale]
        for scale, url in runs:
            t = measure(url, args.repeat)
            dialect = url.split(":", 1)[0]
            for kind in ("cold", "warm"):
                median = statistics.median(t[kind])
                verdict = "ok" if median < TARGETS_MS[kind] else "MISSED"
                print(f"{scale:>6} {dialect:<10} {kind}: median {median:8.2f} ms  (min {min(t[kind]):.2f}, "
                      f"n={len(t[kind])})  target < {TARGETS_MS[kind]:.0f} ms  {verdict}")
            print(f"{scale:>6} {dialect:<10} SQL statements per cold build: {t['statements'][0]}")
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
