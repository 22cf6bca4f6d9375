"""Client dashboard build times, cold (empty cache) and warm, at `demo`, `large` or `xlarge` scale (a
benchmark, not a test).

    python bench/client_dashboard.py [--scale demo large xlarge] [--database-url URL] [--repeat N]

Each scale is seeded once into var/bench/<scale>.db (kept, so later runs skip the seeding; the
time the seeding took is printed, then and on every later run) unless --database-url points at an
already seeded database. `xlarge` takes about 5 minutes and 6.3 GB the first time. With `large`
and another scale, a `growth` line gives the cold figure's ratio to `large`'s.
A private redis-server holds the cache.
Targets: warm under 5 ms, cold under 500 ms at `large`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from data_access import client_dashboard as cd  # noqa: E402
from data_access.cache import sections  # noqa: E402
from data_access.db import configure_database  # noqa: E402
from bench.common import (  # noqa: E402
    add_database_arguments, cache_on_private_redis, databases, growth_by_dialect, report)

TARGETS_MS = {"cold": 300.0, "warm": 5.0}


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
    add_database_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with cache_on_private_redis():
        print(f"client dashboard benchmark · {os.cpu_count()} cores · time range 90d")
        cold = {}
        for dialect, scale, url in databases(args):
            medians = report(f"{scale:>6} {dialect:<10}", measure(url, args.repeat), TARGETS_MS)
            cold[dialect, scale] = medians["cold"]
        growth_by_dialect("client cold (90d)", cold)


if __name__ == "__main__":
    main()
