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


def empty_sqlite_url(name: str) -> str:
    """A SQLite file under var/bench/<name>/, its folder emptied first."""
    import shutil

    folder = Path(__file__).resolve().parent.parent / "var" / "bench" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return f"sqlite:///{folder / f'{name}.db'}"


def empty_postgres_url(server_url: str, database: str) -> str:
    """The database ``database`` on the PostgreSQL server of ``server_url``, dropped and created again."""
    from sqlalchemy import create_engine, text

    admin = create_engine(server_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{database}"


def seeded_postgres_url(server_url: str, scale: str) -> str:
    """The database tb_bench_<scale> on the PostgreSQL server of ``server_url``: created, migrated and
    seeded once (then analysed), kept for later runs; says how long seeding took, then or when it was."""
    from sqlalchemy import create_engine, text

    from data_access.migrate import is_empty, upgrade
    from data_access.seed import seed

    name = f"tb_bench_{scale}"
    admin = create_engine(server_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    record = _bench_path(f"pg-{scale}").with_suffix(".seeding.json")
    if is_empty(url):
        print(f"seeding {scale} into PostgreSQL {name} (once; later runs reuse it)", flush=True)
        started = time.perf_counter()
        seed(url, scale=scale, progress=True)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
        engine.dispose()
        seconds = time.perf_counter() - started
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"seconds": round(seconds, 1), "cores": os.cpu_count(),
                                      "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}))
        print(f"seeded {scale} into PostgreSQL in {seconds:.1f} s (with VACUUM ANALYZE)")
    elif record.exists():
        done = json.loads(record.read_text())
        print(f"reusing PostgreSQL {name}: seeding it took {done['seconds']:.1f} s ({done['at']}, {done['cores']} cores)")
    return url


def add_database_arguments(parser) -> None:
    """--scale, --database-url and --postgres-url, as the dashboard benchmarks take them."""
    parser.add_argument("--scale", nargs="+", default=["demo", "large"], choices=SCALES)
    parser.add_argument("--database-url", help="an already seeded database (then only one scale is measured)")
    parser.add_argument("--postgres-url", help="a PostgreSQL server URL: each scale also on its database "
                                               "tb_bench_<scale> there (seeded once and kept)")


def databases(args) -> list[tuple[str, str, str]]:
    """(dialect, scale, URL) of each database to measure: the seeded SQLite file of each scale, and
    each scale's PostgreSQL database when --postgres-url is given; or --database-url alone."""
    if args.database_url:
        return [(args.database_url.split(":", 1)[0].split("+")[0], "custom", args.database_url)]
    out = [("sqlite", scale, seeded_url(scale)) for scale in args.scale]
    if args.postgres_url:
        out += [("postgresql", scale, seeded_postgres_url(args.postgres_url, scale)) for scale in args.scale]
    return out


def growth_by_dialect(label: str, figures: dict[tuple[str, str], float]) -> None:
    """``growth`` per dialect, from figures keyed by (dialect, scale)."""
    for dialect in sorted({d for d, _s in figures}):
        growth(f"{label} {dialect}", {s: v for (d, s), v in figures.items() if d == dialect})


def growth(label: str, medians: dict[str, float], limit: float = 1.5) -> None:
    """Each scale's figure beside `large`'s, with the ratio (issue 22: xlarge at most 1.5x large)."""
    base = medians.get("large")
    for scale, value in medians.items():
        if scale in ("large", "demo") or base is None:
            continue
        ratio = value / base
        print(f"growth {label:<34}: large {base:9.2f} ms  {scale} {value:9.2f} ms  ratio {ratio:5.2f}x  "
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
