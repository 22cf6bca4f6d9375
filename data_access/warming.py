"""Warming: build the dashboards the pages read, with ``force``, through the same functions the
pages and the API call - so a warmed key is exactly the key a page reads.

Each ``warm_*`` returns what it built and how long each build took, and raises ``WarmingFailed``
when a section failed (a partly priced positions panel is not a failure: prices are never
cached). ``warm_all`` runs every dashboard and collects failures instead of stopping at the first.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from data_access.db import current_engine
from data_access.models import Strategy, StrategyStatus

DASHBOARDS = ("client", "signal_sender", "strategy", "paper_trading")


class WarmingFailed(RuntimeError):
    pass


def failed_sections(doc: dict[str, Any]) -> dict[str, str]:
    partial = set(doc.get("metadata", {}).get("partial_sections", ()))
    return {section: error for section, error in (doc.get("errors") or {}).items() if section not in partial}


def _timed(what: str, build: Callable[[], dict[str, Any]]) -> float:
    started = time.perf_counter()
    doc = build()
    failed = failed_sections(doc)
    if failed:
        raise WarmingFailed(f"{what}: failing sections {failed}")
    return round((time.perf_counter() - started) * 1000.0, 1)


def is_market_open(now: dt.datetime | None = None, timezone: str = "America/New_York") -> bool:
    """Regular US equity hours: weekdays 09:30-16:00 New York time (exchange holidays not modelled)."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(timezone))
    return local.weekday() < 5 and dt.time(9, 30) <= local.time() < dt.time(16, 0)


def active_strategies() -> list[str]:
    with current_engine().connect() as conn:
        return [n for (n,) in conn.execute(select(Strategy.name).where(Strategy.status == StrategyStatus.ACTIVE)
                                           .order_by(Strategy.name))]


def warm_client(settings: Any, time_ranges: Iterable[str] | None = None, force: bool = True) -> dict[str, float]:
    from data_access.client_dashboard import TIME_RANGES, client_dashboard_for

    return {tr: _timed(f"client {tr}", lambda tr=tr: client_dashboard_for(settings, tr, force))
            for tr in (time_ranges or TIME_RANGES)}


def warm_signal_sender(settings: Any, time_ranges: Iterable[str] | None = None,
                       force: bool = True) -> dict[str, dict[str, float]]:
    from data_access.signal_sender_dashboard import TIME_RANGES, signal_sender_dashboard_for

    ranges = list(time_ranges or TIME_RANGES)
    return {name: {tr: _timed(f"signal-sender {name} {tr}",
                              lambda name=name, tr=tr: signal_sender_dashboard_for(settings, name, tr, force))
                   for tr in ranges}
            for name in active_strategies()}


def warm_strategy(time_ranges: Iterable[str] | None = None, force: bool = True) -> dict[str, float]:
    from data_access.strategy_dashboard import TIME_RANGES, check_time_range, strategy_dashboard

    return {tr: _timed(f"strategy {tr}", lambda tr=tr: strategy_dashboard(check_time_range(tr), force=force))
            for tr in (time_ranges or TIME_RANGES)}


def warm_paper_trading(settings: Any, force: bool = True) -> dict[str, float]:
    from data_access.paper_trading import DEFAULT_LIMIT, paper_trading_dashboard_for, paper_trading_lite_for

    return {"document": _timed("paper-trading", lambda: paper_trading_dashboard_for(settings, DEFAULT_LIMIT, force)),
            "lite": _timed("paper-trading lite", lambda: {**paper_trading_lite_for(settings, force)})}


def warm_all(settings: Any, strategy_ranges: Iterable[str] | None = None, force: bool = True) -> dict[str, Any]:
    """Every dashboard; a failing one is reported in ``errors`` and the others still run."""
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    jobs = {
        "client": lambda: warm_client(settings, force=force),
        "signal_sender": lambda: warm_signal_sender(settings, force=force),
        "strategy": lambda: warm_strategy(strategy_ranges, force=force),
        "paper_trading": lambda: warm_paper_trading(settings, force=force),
    }
    built, errors = {}, {}
    for name, job in jobs.items():
        try:
            built[name] = job()
        except Exception as exc:  # noqa: BLE001 - report it, warm the rest
            errors[name] = f"{type(exc).__name__}: {exc}"
    return {"refreshed": built, "errors": errors, "started_at": started.isoformat(timespec="seconds"),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "elapsed_ms": round((time.perf_counter() - clock) * 1000.0, 1)}


def _missing_and_expiring(doc: dict[str, Any], fraction: float) -> tuple[list[str], list[str]]:
    """Cached sections this read had to compute (they were missing: the read stored them) and
    those served with less than ``fraction`` of their TTL left."""
    missing, expiring = [], []
    for name, fresh in (doc.get("sections") or {}).items():
        ttl, left = fresh.get("ttl_seconds"), fresh.get("fresh_for_seconds")
        if ttl is None and left is None:
            continue  # real-time: never cached
        if not fresh.get("cached"):
            missing.append(name)
        elif left is not None and left < fraction * (ttl or 0):
            expiring.append(name)
    return missing, expiring


def check_stale(settings: Any, fraction: float) -> dict[str, Any]:
    """Read every dashboard's default keys (a missing key is computed and stored by that read) and
    rebuild with force the ones with a section that has less than ``fraction`` of its TTL left."""
    from data_access.client_dashboard import DEFAULT_TIME_RANGE, client_dashboard_for
    from data_access.paper_trading import DEFAULT_LIMIT, paper_trading_dashboard_for
    from data_access.signal_sender_dashboard import signal_sender_dashboard_for
    from data_access.strategy_dashboard import TIME_RANGES as STRATEGY_RANGES, strategy_dashboard

    readers: dict[str, Callable[[bool], dict]] = {
        f"client {DEFAULT_TIME_RANGE}": lambda f: client_dashboard_for(settings, DEFAULT_TIME_RANGE, f)}
    for name in active_strategies():
        readers[f"signal-sender {name} {DEFAULT_TIME_RANGE}"] = (
            lambda f, name=name: signal_sender_dashboard_for(settings, name, DEFAULT_TIME_RANGE, f))
    for tr in STRATEGY_RANGES:
        readers[f"strategy {tr}"] = lambda f, tr=tr: strategy_dashboard(tr, force=f)
    readers["paper-trading"] = lambda f: paper_trading_dashboard_for(settings, DEFAULT_LIMIT, f)
    filled, refreshed = {}, {}
    for what, read in readers.items():
        missing, expiring = _missing_and_expiring(read(False), fraction)
        if missing:
            filled[what] = missing
        if expiring:
            refreshed[what] = {"sections": expiring, "ms": _timed(what, lambda read=read: read(True))}
    return {"checked": list(readers), "filled": filled, "refreshed": refreshed}
