"""Paper-trading dashboard and lite endpoint times, cold (empty cache) and warm, at `demo`,
`large` or `xlarge` scale (a benchmark, not a test).

    python bench/paper_trading_dashboard.py [--scale demo large xlarge] [--database-url URL] [--repeat N]

The full document (limit 20, every section read in parallel; the real-time ones are computed on
every call, so "warm" still runs their SQL and the price lookups) is timed in-process through
``paper_trading_dashboard``; the lite summary both as the function and as the HTTP endpoint through
Flask's test client with a bearer token (routing, authentication and JSON included, no socket).
Targets: warm lite under 2 ms in-process; warm full document under 50 ms; cold under 500 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, text  # noqa: E402

from bench.common import (  # noqa: E402
    add_database_arguments, cache_on_private_redis, databases, growth_by_dialect, report)
from data_access import paper_trading as pt  # noqa: E402
from data_access.cache import sections  # noqa: E402

TARGETS_MS = {"cold": 300.0, "warm": 5.0, "lite warm": 2.0, "lite HTTP warm": 2.0}
GEX = ("simulated", None, 2.0, 4, 2)


def lite_client(url: str, redis_url: str):
    """A Flask test client of the real app on ``url`` and its bearer-token header."""
    from app import create_app
    from app.auth import create_token, create_user
    from app.config import Settings

    settings = Settings(DATABASE_URL=url, REDIS_URL=redis_url, CACHE_TYPE="RedisCache",
                        SECRET_KEY="bench-secret-key", VAR_DIR=tempfile.mkdtemp(prefix="tb-bench-var-"))
    server = create_app(settings).server
    with server.extensions["tradeboard"].session() as session:
        if session.execute(text("SELECT 1 FROM users WHERE username = 'bench'")).first() is None:
            create_user(session, "bench", "analyst", password="bench-password-123")
        token = create_token(session, "bench", "bench")
    return server.test_client(), {"Authorization": f"Bearer {token}"}


def measure(url: str, repeat: int, redis_url: str) -> dict[str, list[float]]:
    from data_access.db import configure_database

    client, headers = lite_client(url, redis_url)
    engine = configure_database(url)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(1))
    timings: dict[str, list[float]] = {kind: [] for kind in TARGETS_MS}
    cold_statements = 0
    for _ in range(repeat):
        sections.redis.flushdb()
        statements.clear()
        started = time.perf_counter()
        pt.paper_trading_dashboard(20, gex=GEX)
        timings["cold"].append((time.perf_counter() - started) * 1000)
        cold_statements = len(statements)
        for _ in range(20):
            started = time.perf_counter()
            pt.paper_trading_dashboard(20, gex=GEX)
            timings["warm"].append((time.perf_counter() - started) * 1000)
        for _ in range(200):
            started = time.perf_counter()
            pt.paper_trading_lite()
            timings["lite warm"].append((time.perf_counter() - started) * 1000)
        for _ in range(200):
            started = time.perf_counter()
            response = client.get("/api/v1/dashboards/paper-trading/lite", headers=headers)
            timings["lite HTTP warm"].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)
    timings["statements"] = [cold_statements]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_arguments(parser)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with cache_on_private_redis() as redis_url:
        print(f"paper-trading dashboard benchmark · {os.cpu_count()} cores · limit 20 · bars prices, simulated GEX")
        cold = {}
        for dialect, scale, url in databases(args):
            medians = report(f"{scale:>6} {dialect:<10}", measure(url, args.repeat, redis_url), TARGETS_MS)
            cold[dialect, scale] = medians["cold"]
        growth_by_dialect("paper trading cold", cold)


if __name__ == "__main__":
    main()
