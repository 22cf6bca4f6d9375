"""Strategy-performance aggregation times at 1,000 / 10,000 / 100,000 completed runs, cold (empty
cache, all four time ranges) and warm, on SQLite and (with --postgres-url) PostgreSQL.

    python bench/strategy_dashboard.py [--runs 1000 10000 100000] [--scale large xlarge] [--postgres-url URL]
                                       [--repeat N]

Runs are synthetic rows (kinds and parameters from the engine's registry, 12 symbols, completions
spread over the last 180 days), bulk-inserted into var/bench/strategy-<n>.db (kept) or into a
fresh PostgreSQL database per size. Target: the cold build of all four ranges under 1 s at 10,000
runs; warm (one range, from Redis) under 5 ms. --scale also measures the seeded databases
bench/client_dashboard.py keeps in var/bench/<scale>.db (really run backtests: 10,200 at `large`,
100,000 at `xlarge`), seeding them if missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sqlalchemy import create_engine, event, insert, text  # noqa: E402

from app.services import PrivateRedis  # noqa: E402
from bench.common import SCALES, growth_by_dialect, seeded_postgres_url, seeded_url  # noqa: E402
from data_access import strategy_dashboard as sd  # noqa: E402
from data_access.aggregates.backtest_days import rebuild_backtest_days  # noqa: E402
from data_access.cache import sections  # noqa: E402
from data_access.db import configure_database  # noqa: E402
from data_access.migrate import upgrade  # noqa: E402
from data_access.models import BacktestRun  # noqa: E402
from data_access.seed import config_key  # noqa: E402

TARGETS_MS = {10_000: 500.0, 100_000: 500.0}
WARM_TARGET_MS = 5.0
SYMBOLS = ("SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TSLA", "JPM", "XOM", "BTCUSD", "ETHUSD", "GLD")
GRIDS = {
    "sma_cross": [{"fast": f, "slow": s, "allow_short": a} for f in (5, 10, 20) for s in (30, 50, 100) for a in (False, True)],
    "rsi_reversion": [{"period": p, "lower": lo, "upper": 100.0 - lo, "allow_short": False}
                      for p in (7, 14, 21) for lo in (20.0, 25.0, 30.0)],
    "donchian_breakout": [{"window": w, "allow_short": True} for w in (10, 20, 55)],
    "bollinger_reversion": [{"window": w, "k": k, "allow_short": False} for w in (10, 20) for k in (1.5, 2.0, 2.5)],
}


def synthetic_runs(n: int, seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    configs = [(kind, params) for kind, grid in GRIDS.items() for params in grid]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    pick = rng.integers(0, len(configs), n)
    completed = [now - dt.timedelta(seconds=float(s)) for s in rng.uniform(0, 180 * 86400, n)]
    vol = rng.uniform(8, 70, n)
    rows = []
    for i in range(n):
        kind, params = configs[pick[i]]
        sharpe = float(rng.normal(0.3, 0.8))
        rows.append({
            "strategy_kind": kind, "params": params, "config_key": config_key(kind, params),
            "symbol": SYMBOLS[i % len(SYMBOLS)], "timeframe": "1d", "start": completed[i] - dt.timedelta(days=365),
            "end": completed[i], "cash": 100_000.0, "status": "COMPLETED", "completed_at": completed[i],
            "total_return_pct": float(rng.normal(5, 20)), "sharpe_ratio": sharpe,
            "max_drawdown_pct": float(rng.uniform(2, 40)), "win_rate_pct": float(rng.uniform(30, 70)),
            "number_of_trades": int(rng.integers(0, 80)), "underlying_volatility_pct": float(vol[i]),
            "volatility_regime": "low" if vol[i] < 20 else ("medium" if vol[i] < 40 else "high"),
        })
    return rows


def fill(url: str, n: int) -> None:
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        if conn.execute(text("SELECT count(*) FROM backtest_runs")).scalar_one() == n:
            return
        conn.execute(text("DELETE FROM backtest_runs"))
        rows = synthetic_runs(n)
        for lo in range(0, n, 5000):
            conn.execute(insert(BacktestRun.__table__), rows[lo:lo + 5000])
        rebuild_backtest_days(conn)  # the dashboard reads the daily rollups the store keeps
    engine.dispose()


def postgres_database(server_url: str) -> str:
    name = f"tb_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(server_url: str, url: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def measure(url: str, n: int | None, repeat: int, label: str = "") -> float:
    engine = configure_database(url)
    if n is None:
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM backtest_runs")).scalar_one()
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(1))
    cold, warm = [], []
    for _ in range(repeat):
        sections.redis.flushdb()
        statements.clear()
        started = time.perf_counter()
        for time_range in sd.TIME_RANGES:
            sd.strategy_dashboard(time_range)
        cold.append((time.perf_counter() - started) * 1000)
        per_build = len(statements) // len(sd.TIME_RANGES)
        for _ in range(20):
            started = time.perf_counter()
            sd.strategy_dashboard("30d")
            warm.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    target = None if label else TARGETS_MS.get(n)
    cold_ms, warm_ms = float(np.median(cold)), float(np.median(warm))
    verdict = "" if target is None else (f"target < {target:.0f} ms  " + ("ok" if cold_ms < target else "MISSED"))
    dialect = (label + " " if label else "") + url.split(":", 1)[0].split("+")[0]
    print(f"{n:>7,} runs {dialect:<10} cold (4 ranges): median {cold_ms:8.1f} ms (min {min(cold):.1f})  {verdict}")
    print(f"{n:>7,} runs {dialect:<10} warm (30d)     : median {warm_ms:8.2f} ms  target < {WARM_TARGET_MS:.0f} ms  "
          f"{'ok' if warm_ms < WARM_TARGET_MS else 'MISSED'}   SQL statements per cold build: {per_build}")
    return cold_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", type=int, default=[1_000, 10_000, 100_000])
    parser.add_argument("--postgres-url", default=os.environ.get("TRADEBOARD_TEST_POSTGRES_URL"),
                        help="a PostgreSQL server URL (a database is created per size and dropped)")
    parser.add_argument("--scale", nargs="*", default=[], choices=SCALES,
                        help="also the seeded var/bench/<scale>.db, and with --postgres-url the server's "
                             "tb_bench_<scale> (seeded once and kept)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    redis = PrivateRedis(tempfile.mkdtemp(prefix="tb-bench-redis-")).start()
    try:
        sections.configure(cache_type="RedisCache", redis_url=redis.url, ttl={"short": 30, "medium": 300, "long": 3600})
        print(f"strategy dashboard benchmark · {os.cpu_count()} cores · {dt.date.today()}")
        for n in args.runs:
            path = Path(__file__).resolve().parent.parent / "var" / "bench" / f"strategy-{n}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
            fill(url, n)
            measure(url, n, args.repeat)
            if args.postgres_url:
                pg = postgres_database(args.postgres_url)
                try:
                    fill(pg, n)
                    measure(pg, n, args.repeat)
                finally:
                    drop_postgres_database(args.postgres_url, pg)
        cold = {("sqlite", scale): measure(seeded_url(scale), None, args.repeat, label=scale) for scale in args.scale}
        if args.postgres_url:
            cold.update({("postgresql", scale): measure(seeded_postgres_url(args.postgres_url, scale), None,
                                                        args.repeat, label=scale) for scale in args.scale})
        growth_by_dialect("strategy cold (4 ranges)", cold)
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
