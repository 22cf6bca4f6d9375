"""The dashboards' cache by hand: load-dashboards."""

from __future__ import annotations

import time

import click

from app.cli.common import echo, load_settings

commands = click.Group()


@commands.command("load-dashboards")
@click.option("--time-range", type=click.Choice(["7d", "30d", "90d", "all"]), default=None,
              help="Aggregate only this range (default: all four).")
@click.option("--clear-cache", is_flag=True, help="Invalidate the strategy dashboard's cached sections first.")
@click.option("--async", "queue", is_flag=True, help="Queue it on a Celery worker and print the task id.")
@click.option("--all-dashboards", is_flag=True, help="Also rebuild the client, signal-sender and paper-trading dashboards.")
def load_dashboards(time_range: str | None, clear_cache: bool, queue: bool, all_dashboards: bool) -> None:
    """Aggregate the strategy dashboard (every time range) now, or queue it."""
    from data_access.cache import sections
    from data_access.db import configure_database_from

    settings = load_settings()
    if not settings.REDIS_URL:
        raise click.ClickException("REDIS_URL is not set and no `tradeboard run` is running: there is no cache to load")
    sections.configure_from(settings)
    if clear_cache:  # before anything is rebuilt or queued
        from data_access.backtest_store import FAMILY

        sections.bump(FAMILY)
        if sections.status()["degraded"]:
            raise click.ClickException(f"the cache was not cleared: Redis is unreachable ({sections.status()['last_error']})")
        echo(f"cleared: the strategy dashboard's cached sections ({FAMILY} family)")
    if queue:
        import tasks

        tasks.use_settings(settings)
        if all_dashboards:
            result = tasks.celery_app.send_task("tasks.dashboards.refresh_all_dashboards")
        elif time_range:
            result = tasks.celery_app.send_task("tasks.dashboards.refresh_strategy_dashboard", args=(time_range,))
        else:
            result = tasks.celery_app.send_task("tasks.dashboards.aggregate_strategy_performance")
        echo(f"queued: {result.id}")
        return
    from data_access import warming

    configure_database_from(settings)
    started = time.perf_counter()
    try:
        if all_dashboards:
            report = warming.warm_all(settings, [time_range] if time_range else None)
            for name, built in report["refreshed"].items():
                echo(f"{name}: {built}")
            if report["errors"]:
                raise click.ClickException(f"failed: {report['errors']}")
        else:
            for range_name, ms in warming.warm_strategy([time_range] if time_range else None).items():
                echo(f"strategy performance {range_name}: aggregated in {ms:.1f} ms")
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed load is a message and a non-zero exit, not a traceback
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    echo(f"done in {time.perf_counter() - started:.2f} s")
