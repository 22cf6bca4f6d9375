"""Signal-sender dashboard build times, cold (empty cache) and warm, and one history page, at
`demo`, `large` or `xlarge` scale (a benchmark, not a test).

    python bench/signal_sender_dashboard.py [--scale demo large xlarge] [--database-url URL] [--repeat N]
                                            [--strategy NAME]

Uses the databases bench/client_dashboard.py seeds into var/bench/<scale>.db (seeding them if
missing) unless --database-url points at an already seeded database. The strategy measured is the
one with the most signals. A private redis-server holds the cache.
A history page is 100 rows at offsets 0, 500 and 5,000: newest first (the grid's default), and
sorted by symbol with a status text filter (the worst case: a sort and a LIKE over every signal).
Targets: warm under 5 ms, cold under 300 ms, a default page under 100 ms, the worst case under
200 ms, at `xlarge` too, each cold figure at most 1.5x its `large` figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, select  # noqa: E402

from bench.common import (  # noqa: E402
    add_database_arguments, cache_on_private_redis, databases, growth_by_dialect, report)
from data_access import signal_sender_dashboard as ssd  # noqa: E402
from data_access.cache import sections  # noqa: E402
from data_access.db import configure_database  # noqa: E402
from data_access.models import Signal, Strategy  # noqa: E402

TARGETS_MS = {"warm": 5.0, "cold": 300.0, "page": 100.0, "page_sorted_filtered": 200.0}


def busiest_strategy(engine) -> tuple[str, int]:
    with engine.connect() as connection:
        name, count = connection.execute(
            select(Strategy.name, func.count(Signal.id)).join(Signal, Signal.strategy_id == Strategy.id)
            .group_by(Strategy.name).order_by(func.count(Signal.id).desc()).limit(1)).one()
    return name, int(count)


def measure(url: str, repeat: int, strategy: str | None) -> tuple[dict[str, list[float]], str, int]:
    engine = configure_database(url)
    name, count = busiest_strategy(engine)
    name = strategy or name
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(1))
    timings: dict[str, list[float]] = {"cold": [], "warm": [], "page": [], "page_sorted_filtered": []}
    sid = None
    for _ in range(repeat):
        sections.redis.flushdb()
        statements.clear()
        started = time.perf_counter()
        ssd.signal_sender_dashboard(name, "90d")
        timings["cold"].append((time.perf_counter() - started) * 1000)
        cold_statements = len(statements)
        for _ in range(20):
            started = time.perf_counter()
            ssd.signal_sender_dashboard(name, "90d")
            timings["warm"].append((time.perf_counter() - started) * 1000)
        sid = ssd.strategy_info(name)["strategy_id"]
        for start in (0, 500, 5000):
            started = time.perf_counter()
            ssd.signal_page(sid, start, start + 100)  # the grid's default: newest first, no filter
            timings["page"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            ssd.signal_page(sid, start, start + 100, [{"colId": "symbol", "sort": "asc"}],
                            {"status": {"filterType": "text", "type": "contains", "filter": "fill"}})
            timings["page_sorted_filtered"].append((time.perf_counter() - started) * 1000)
    timings["statements"] = [cold_statements]
    return timings, name, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--strategy", help="strategy name (default: the one with the most signals)")
    args = parser.parse_args()
    with cache_on_private_redis():
        print(f"signal-sender dashboard benchmark · {os.cpu_count()} cores · time range 90d")
        cold, worst_page = {}, {}
        for dialect, scale, url in databases(args):
            timings, name, count = measure(url, args.repeat, args.strategy)
            label = f"{scale:>6} {dialect:<10}"
            print(f"{label} strategy {name!r} ({count:,} signals in all)")
            medians = report(label, timings, TARGETS_MS)
            cold[dialect, scale], worst_page[dialect, scale] = medians["cold"], medians["page_sorted_filtered"]
        growth_by_dialect("signal-sender cold", cold)
        growth_by_dialect("history sorted+filtered", worst_page)


if __name__ == "__main__":
    main()
