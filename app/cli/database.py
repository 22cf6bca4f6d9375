"""The database: migrate, seed."""

from __future__ import annotations

import click

from app.cli.common import bump_cache, display_url, echo, load_settings, migrate_database

commands = click.Group()


@commands.command()
def migrate() -> None:
    """Bring the database (DATABASE_URL) to the latest schema."""
    settings = load_settings()
    migrate_database(settings.DATABASE_URL)
    echo(f"migrated {display_url(settings.DATABASE_URL)}")


@commands.command()
@click.option("--scale", type=click.Choice(["demo", "large", "xlarge"]), default="demo", show_default=True,
              help="demo: seconds; large: 1.1 M signals, about 30 s; xlarge: 11 M signals and 100,000 backtests.")
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--reset", is_flag=True, help="Replace existing data (admin users are kept).")
def seed(scale: str, seed_value: int, reset: bool) -> None:
    """Fill the database with generated demo data."""
    from data_access.seed import seed as run_seed

    settings = load_settings()
    try:
        summary = run_seed(settings.DATABASE_URL, scale=scale, seed=seed_value, reset=reset, progress=True)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for key, value in (summary or {}).items():
        echo(f"  {key}: {value}")
    bump_cache(settings)  # every table was written: no cached section stays


@commands.command("rebuild-aggregates")
def rebuild_aggregates() -> None:
    """Sum the daily rollups again from the raw rows: trade_days from the closed trades, signal_days
    and signal_lag_days from the signals, backtest_symbol_days and backtest_config_days from the
    backtest runs. They are kept as rows are written; this is for a database changed by hand or
    restored in part. It holds the ingest lock, so no batch writes meanwhile."""
    import time

    from data_access.aggregates import rebuild_aggregates as rebuild
    from data_access.db import make_engine
    from data_access.ingest.batch import IngestBusy, lock_ingest

    settings = load_settings()
    engine = make_engine(settings.DATABASE_URL)
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            lock_ingest(conn)
            days = rebuild(conn)
    except IngestBusy as exc:
        raise click.ClickException(f"{exc}: nothing was changed; run it again") from None
    finally:
        engine.dispose()
    bump_cache(settings, "trades", "signals", "backtests")
    echo(f"trade_days: {days['trade_days']:,} strategy days summed from the closed trades; signal_days: "
         f"{days['signal_days']:,} strategy days counted from the signals; backtest days: {days['backtest_days']:,} "
         f"({time.perf_counter() - started:.1f} s)")
