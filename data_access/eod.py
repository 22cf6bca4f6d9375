"""The end-of-day summary: the fund (from the client dashboard's document), each strategy's day
(two grouped statements: signals by status, closed trades) and the paper book (its overview),
stored one row per subject and day (re-running a day replaces it), optionally POSTed as JSON to a
webhook."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import urllib3
from sqlalchemy import case, func, select

from data_access.db import current_engine
from data_access.models import ClosedTrade, DailySummary, Signal, SignalStatus, Strategy

FUND_FIELDS = ("total_aum", "total_equity", "total_pnl", "total_pnl_pct", "margin_utilization", "unrealized_pnl",
               "number_of_strategies")


class WebhookFailed(RuntimeError):
    pass


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


def strategy_days(day: dt.date) -> dict[str, dict[str, Any]]:
    """Per strategy: the day's signals by outcome, fill rate, closed trades, wins, realized PnL."""
    start, end = _day_bounds(day)
    out: dict[str, dict[str, Any]] = {}
    with current_engine().connect() as conn:
        for name, status in conn.execute(select(Strategy.name, Strategy.status).order_by(Strategy.name)):
            out[name] = {"status": getattr(status, "value", status), "signals": 0, "filled": 0, "rejected": 0,
                         "fill_rate": None, "trades_closed": 0, "wins": 0, "realized_pnl": 0.0, "win_rate": None}
        for name, n, filled, rejected in conn.execute(
            select(Strategy.name, func.count(), func.sum(case((Signal.status == SignalStatus.FILLED, 1), else_=0)),
                   func.sum(case((Signal.status == SignalStatus.REJECTED, 1), else_=0)))
            .join(Strategy, Strategy.id == Signal.strategy_id)
            .where(Signal.received_at >= start, Signal.received_at < end).group_by(Strategy.name)
        ):
            out[name].update(signals=int(n), filled=int(filled or 0), rejected=int(rejected or 0),
                             fill_rate=int(filled or 0) / int(n) * 100.0 if n else None)
        for name, n, wins, pnl in conn.execute(
            select(Strategy.name, func.count(), func.sum(case((ClosedTrade.realized_pnl > 0, 1), else_=0)),
                   func.sum(ClosedTrade.realized_pnl))
            .join(Strategy, Strategy.id == ClosedTrade.strategy_id)
            .where(ClosedTrade.closed_at >= start, ClosedTrade.closed_at < end).group_by(Strategy.name)
        ):
            out[name].update(trades_closed=int(n), wins=int(wins or 0), realized_pnl=float(pnl or 0.0),
                             win_rate=int(wins or 0) / int(n) * 100.0 if n else None)
    return out


def build_summary(settings: Any, day: dt.date) -> dict[str, Any]:
    from data_access.client_dashboard import client_dashboard_for
    from data_access.paper_trading import paper_trading_lite_for

    client = client_dashboard_for(settings, "30d")
    overview = client.get("overview") or {}
    returns = client.get("daily_returns") or []
    return {
        "date": day.isoformat(),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fund": {**{k: overview.get(k) for k in FUND_FIELDS}, "fund_name": settings.FUND_NAME,
                 "daily_return": returns[-1] if returns else None, "risk_metrics": client.get("risk_metrics"),
                 "errors": client.get("errors")},
        "strategies": strategy_days(day),
        "paper": {k: v for k, v in paper_trading_lite_for(settings).items() if k != "cached"},
    }


def store_summary(summary: dict[str, Any]) -> int:
    """Replace the day's rows (fund, each strategy, paper); returns how many were written."""
    day = dt.date.fromisoformat(summary["date"])
    rows = [("fund", "fund", summary["fund"]), ("paper", "paper", summary["paper"])]
    rows += [("strategy", name, values) for name, values in summary["strategies"].items()]
    table = DailySummary.__table__
    with current_engine().begin() as conn:
        conn.execute(table.delete().where(table.c.date == day))
        conn.execute(table.insert(), [{"date": day, "scope": scope, "name": name, "summary": values,
                                       "created_at": dt.datetime.now(dt.UTC).replace(tzinfo=None)}
                                      for scope, name, values in rows])
    return len(rows)


def stored_summary(day: dt.date) -> dict[str, dict[str, Any]]:
    """``{"<scope>:<name>": summary}`` stored for ``day``."""
    table = DailySummary.__table__
    with current_engine().connect() as conn:
        return {f"{scope}:{name}": values for scope, name, values in
                conn.execute(select(table.c.scope, table.c.name, table.c.summary).where(table.c.date == day))}


def post_webhook(url: str, summary: dict[str, Any], timeout: float) -> int:
    """POST the summary as JSON; WebhookFailed unless the answer is 2xx."""
    try:
        response = urllib3.PoolManager().request("POST", url, body=json.dumps(summary, default=str).encode(),
                                                 headers={"Content-Type": "application/json"},
                                                 timeout=urllib3.Timeout(total=timeout), retries=False)
    except urllib3.exceptions.HTTPError as exc:
        raise WebhookFailed(f"webhook {url}: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status < 300:
        raise WebhookFailed(f"webhook {url} answered {response.status}")
    return response.status
