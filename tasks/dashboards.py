"""Warmers and cache tasks: every one calls ``data_access.warming`` (the same functions the pages
and the API call, with force), so a warmed key is exactly the key a page reads.

Failures retry with exponential backoff - 1 s, 2 s, 4 s, 8 s - then give up (the failure is
recorded by tasks/runs.py); every task has a time limit and is acknowledged late (tasks/__init__).
"""

from __future__ import annotations

import datetime as dt
import logging

from tasks import celery_app

log = logging.getLogger(__name__)

RETRY = {"autoretry_for": (Exception,), "retry_backoff": 1, "retry_backoff_max": 8, "retry_jitter": False,
         "max_retries": 4}  # 1 s, 2 s, 4 s, 8 s, then give up
LIMITS = {"time_limit": 300, "soft_time_limit": 240}


def _settings():
    from app.config import Settings

    return Settings.from_env()


@celery_app.task(name="tasks.dashboards.refresh_client_dashboard", **LIMITS, **RETRY)
def refresh_client_dashboard() -> dict:
    """Rebuild the client dashboard for every time range (outside market hours it is skipped when
    MARKET_HOURS_ONLY is set)."""
    from data_access.warming import is_market_open, warm_client

    settings = _settings()
    if settings.MARKET_HOURS_ONLY and not is_market_open(timezone=settings.SCHEDULE_TIMEZONE):
        return {"dashboard": "client", "skipped": "outside market hours (MARKET_HOURS_ONLY)"}
    built = warm_client(settings)
    log.info("client dashboard warmed: %s (ms per time range)", built)
    return {"dashboard": "client", "built_ms": built}


@celery_app.task(name="tasks.dashboards.refresh_signal_sender_dashboards", **LIMITS, **RETRY)
def refresh_signal_sender_dashboards() -> dict:
    """Rebuild the signal-sender dashboard of every active strategy, every time range."""
    from data_access.warming import warm_signal_sender

    built = warm_signal_sender(_settings())
    return {"dashboard": "signal_sender", "strategies": len(built), "built_ms": built}


@celery_app.task(name="tasks.dashboards.refresh_paper_trading_dashboard", **LIMITS, **RETRY)
def refresh_paper_trading_dashboard() -> dict:
    from data_access.warming import warm_paper_trading

    return {"dashboard": "paper_trading", "built_ms": warm_paper_trading(_settings())}


@celery_app.task(name="tasks.dashboards.aggregate_strategy_performance", **LIMITS, **RETRY)
def aggregate_strategy_performance() -> dict:
    """Aggregate the completed backtests for every time range (7d, 30d, 90d, all)."""
    from data_access.warming import warm_strategy

    return {"dashboard": "strategy", "built_ms": warm_strategy()}


@celery_app.task(name="tasks.dashboards.refresh_strategy_dashboard", **LIMITS, **RETRY)
def refresh_strategy_dashboard(time_range: str) -> dict:
    from data_access.warming import warm_strategy

    return {"dashboard": "strategy", "built_ms": warm_strategy([time_range])}


@celery_app.task(name="tasks.dashboards.invalidate_strategy_cache", **LIMITS, **RETRY)
def invalidate_strategy_cache() -> dict:
    """Every strategy-dashboard key misses on its next read (its data family's generation moves)."""
    from data_access.cache import sections

    sections.bump("backtests")
    return {"invalidated": "backtests"}


@celery_app.task(name="tasks.dashboards.check_stale_cache", **LIMITS, **RETRY)
def check_stale_cache() -> dict:
    """Refresh any dashboard key that is missing or within STALE_REFRESH_FRACTION of its expiry."""
    from data_access.warming import check_stale

    settings = _settings()
    return check_stale(settings, settings.STALE_REFRESH_FRACTION)


@celery_app.task(name="tasks.dashboards.refresh_all_dashboards", **LIMITS, **RETRY)
def refresh_all_dashboards() -> dict:
    """Every dashboard now (the API's refresh and the worker's warm-up). Raises - and so retries -
    when any dashboard failed, after warming all the others."""
    from data_access.warming import warm_all

    report = warm_all(_settings())
    if report["errors"]:
        raise RuntimeError(f"dashboards failed to refresh: {report['errors']}")
    return report


@celery_app.task(name="tasks.dashboards.generate_eod_summary", time_limit=600, soft_time_limit=540, **RETRY)
def generate_eod_summary(day: str | None = None) -> dict:
    """Store the day's summary for the fund, each strategy and the paper book; POST it to
    EOD_WEBHOOK_URL when set (stored first, so a failing webhook retries without losing it)."""
    from data_access import eod

    settings = _settings()
    on = dt.date.fromisoformat(day) if day else dt.datetime.now(dt.UTC).date()
    summary = eod.build_summary(settings, on)
    rows = eod.store_summary(summary)
    posted = None
    if settings.EOD_WEBHOOK_URL:
        posted = eod.post_webhook(settings.EOD_WEBHOOK_URL, summary, settings.EOD_WEBHOOK_TIMEOUT_SECONDS)
    return {"date": on.isoformat(), "rows": rows, "webhook_status": posted}
