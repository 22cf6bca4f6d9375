"""The fund-level client dashboard: one cached function per query, assembled into one document.

A cold build runs six aggregate SQL statements whatever the data size: latest account
snapshots, per-strategy daily realized PnL, open positions (without prices), the fund's daily
equity, the benchmark's closes and the latest signals. Every metric comes from
``analytics.metrics``.

Positions are marked at assembly time, never cached (prices are real-time), with the configured
price provider (``data_access.marking``; the ``bars`` provider adds one statement per build): a
stale quote is flagged on its position (``price_stale``, ``price_age_seconds``), and an unpriced
symbol leaves that position's ``current_price``/``unrealized_pnl`` null and is named in
``errors["positions"]`` while everything else renders.

Account scope: ``accounts`` (a tuple of account names; empty = the whole fund) restricts every
section to those accounts - their balances, the strategies whose ``account_id`` is one of them
(results, positions, recent signals) and the fund curves and risk of their equity only. The scope
is an argument of every cached section (``normalize_accounts``: sorted, de-duplicated), so a scoped
read and an unscoped one never share a cached value. Filtering is a subquery on account names
inside each section's one statement, so a scoped cold build runs the same number of statements,
and the unscoped statements are unchanged. An unknown account name matches nothing: its sections
are empty (no accounts, strategies, positions, curve or signals), not an error. Within a scope,
AUM, equity and PnL are sums over the accounts in view, and a strategy's capital is its allocation
of the AUM in view, so nothing on a scoped document is derived from other accounts' data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select

from analytics import metrics
from data_access.cache import cached_section
from data_access.db import current_engine
from data_access.document import SectionReader, utc_now_iso
from data_access.marking import mark, marked_positions, price_provider_for
from data_access.models import (
    Account,
    AccountSnapshot,
    Bar,
    Position,
    Signal,
    Strategy,
    StrategyStatus,
    TradeDay,
)
from data_access.prices import PriceProvider, Quotes

TIME_RANGES: dict[str, int | None] = {"7d": 7, "30d": 30, "90d": 90, "1y": 365, "all": None}
DEFAULT_TIME_RANGE = "90d"
RECENT_SIGNALS = 25


class InvalidTimeRange(ValueError):
    pass


def check_time_range(time_range: str) -> str:
    if time_range not in TIME_RANGES:
        raise InvalidTimeRange(f"unknown time_range {time_range!r}; valid: {', '.join(TIME_RANGES)}")
    return time_range


def range_start(time_range: str, as_of: dt.date) -> dt.date | None:
    days = TIME_RANGES[check_time_range(time_range)]
    return None if days is None else as_of - dt.timedelta(days=days)


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else pd.Timestamp(value).date()


def normalize_accounts(accounts: Any) -> tuple[str, ...]:
    """A scope as a cache-key-ready tuple: names stripped, blanks dropped, de-duplicated, sorted."""
    if not accounts:
        return ()
    if isinstance(accounts, str):
        accounts = accounts.split(",")
    return tuple(sorted({str(a).strip() for a in accounts if str(a).strip()}))


def _scoped_account_ids(accounts: tuple[str, ...]):
    """A subquery of the ids of the named accounts (for ``column.in_(...)``)."""
    return select(Account.id).where(Account.name.in_(accounts)).scalar_subquery()


def _rows(statement) -> list:
    with current_engine().connect() as connection:
        return connection.execute(statement).all()


# --------------------------------------------------------------------------- sections (one query each)


@cached_section(("accounts",), "short")
def account_balances(as_of: str, accounts: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Each account (of ``accounts`` when given) with its latest snapshot on or before ``as_of`` (ISO date)."""
    latest = (
        select(func.max(AccountSnapshot.date))
        .where(AccountSnapshot.account_id == Account.id, AccountSnapshot.date <= dt.date.fromisoformat(as_of))
        .correlate(Account)
        .scalar_subquery()
    )
    query = (
        select(Account.name, Account.broker, Account.net_contributions, AccountSnapshot.date, AccountSnapshot.equity,
               AccountSnapshot.cash, AccountSnapshot.margin_used, AccountSnapshot.margin_available,
               AccountSnapshot.unrealized_pnl)
        .outerjoin(AccountSnapshot, and_(AccountSnapshot.account_id == Account.id, AccountSnapshot.date == latest))
        .order_by(Account.name)
    )
    if accounts:
        query = query.where(Account.name.in_(accounts))
    rows = _rows(query)
    balances = []
    for name, broker, contributions, date, equity, cash, used, available, unrealized in rows:
        equity = equity or 0.0
        balances.append({
            "account_name": name,
            "broker": broker,
            "net_contributions": contributions,
            "equity": equity,
            "cash": cash or 0.0,
            "margin_used": used or 0.0,
            "margin_available": available or 0.0,
            "margin_utilization": (used / available * 100.0) if available else None,
            "unrealized_pnl": unrealized or 0.0,
            "pnl": equity - contributions,
            "snapshot_date": date.isoformat() if date else None,
        })
    return balances


def strategy_daily_pnl(time_range: str, as_of: str, accounts: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every strategy (on ``accounts`` when given) with its realized PnL, trade and win counts per day of the range."""
    start = range_start(time_range, dt.date.fromisoformat(as_of))
    in_range = TradeDay.strategy_id == Strategy.id
    if start is not None:
        in_range = and_(in_range, TradeDay.day >= start)
    query = (
        select(Strategy.id, Strategy.name, Strategy.allocation, Strategy.status, TradeDay.day,
               TradeDay.realized_pnl, TradeDay.trades, TradeDay.wins)
        .outerjoin(TradeDay, in_range)
        .order_by(Strategy.name, TradeDay.day)
    )
    if accounts:
        query = query.where(Strategy.account_id.in_(_scoped_account_ids(accounts)))
    rows = _rows(query)
    by_strategy: dict[int, dict[str, Any]] = {}
    for sid, name, allocation, status, date, pnl, trades, wins in rows:
        entry = by_strategy.setdefault(sid, {"strategy_name": name, "allocation": allocation,
                                             "status": StrategyStatus(status).value, "days": []})
        if date is not None:
            entry["days"].append([_day(date).isoformat(), float(pnl or 0.0), int(trades), int(wins or 0)])
    return list(by_strategy.values())


@cached_section(("positions", "strategies"), "short")
def open_positions(accounts: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Open positions (strategy, symbol, signed quantity - negative is short - and entry price), those
    held in ``accounts`` when given, without prices: ``client_dashboard`` marks them at read time."""
    query = (
        select(Strategy.name, Position.symbol, Position.quantity, Position.entry_price)
        .join(Strategy, Strategy.id == Position.strategy_id)
        .order_by(Strategy.name, Position.symbol)
    )
    if accounts:
        query = query.where(Position.account_id.in_(_scoped_account_ids(accounts)))
    rows = _rows(query)
    return [{"strategy_name": strategy, "symbol": symbol, "quantity": quantity, "entry_price": entry}
            for strategy, symbol, quantity, entry in rows]


def mark_positions(sections: SectionReader, rows: list[dict] | None, prices: PriceProvider) -> list[dict] | None:
    """``rows`` with ``current_price``, ``unrealized_pnl`` and ``price_*`` from ``prices`` (not cached:
    prices are real-time). Unpriced symbols keep null prices and are named in ``errors["positions"]``."""
    if rows is None:
        return None
    try:
        marked, unpriced = marked_positions(rows, prices)
    except Exception as exc:  # the providers fail soft; this is a last resort, so the page still renders
        marked, unpriced = mark(rows, Quotes()), f"no prices: {type(exc).__name__}: {exc}"
    sections.note_error("positions", unpriced)
    return marked


def total_unrealized(positions: list[dict] | None) -> float:
    """The sum of the positions' unrealized PnL; unpriced positions (null) are left out."""
    return sum(p["unrealized_pnl"] for p in positions or [] if p["unrealized_pnl"] is not None)


def fund_equity(time_range: str, as_of: str, accounts: tuple[str, ...] = ()) -> list[list[Any]]:
    """The fund's equity per calendar day: each account's (of ``accounts`` when given) snapshots carried
    forward, summed."""
    as_of_day = dt.date.fromisoformat(as_of)
    start = range_start(time_range, as_of_day)
    query = select(AccountSnapshot.date, AccountSnapshot.account_id, AccountSnapshot.equity).where(
        AccountSnapshot.date <= as_of_day
    )
    if start is not None:
        # one more week back, so every account has a value to carry into the first day
        query = query.where(AccountSnapshot.date >= start - dt.timedelta(days=7))
    if accounts:
        query = query.where(AccountSnapshot.account_id.in_(_scoped_account_ids(accounts)))
    rows = _rows(query.order_by(AccountSnapshot.date))
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["date", "account", "equity"])
    frame["date"] = pd.to_datetime(frame["date"].map(_day))
    wide = frame.pivot_table(index="date", columns="account", values="equity", aggfunc="last")
    days = pd.date_range(wide.index[0], pd.Timestamp(as_of_day), freq="D")
    total = wide.reindex(days).ffill().sum(axis=1, min_count=1).dropna()
    if start is not None:
        total = total[total.index >= pd.Timestamp(start)]
    return [[d.date().isoformat(), float(v)] for d, v in total.items()]


def benchmark_closes(symbol: str, time_range: str, as_of: str) -> list[list[Any]]:
    """The benchmark's daily closes over the range (and the one before it, for the first return)."""
    as_of_day = dt.date.fromisoformat(as_of)
    start = range_start(time_range, as_of_day)
    query = select(Bar.time, Bar.close).where(
        Bar.symbol == symbol, Bar.timeframe == "1d",
        Bar.time < dt.datetime.combine(as_of_day + dt.timedelta(days=1), dt.time()),
    )
    if start is not None:
        query = query.where(Bar.time >= dt.datetime.combine(start - dt.timedelta(days=7), dt.time()))
    return [[_day(t).isoformat(), float(c)] for t, c in _rows(query.order_by(Bar.time))]


@cached_section(("signals",), "short")
def recent_signals(limit: int, accounts: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The latest ``limit`` signals, of the strategies on ``accounts`` when given."""
    query = (
        select(Signal.signal_id, Strategy.name, Signal.symbol, Signal.side, Signal.quantity, Signal.status,
               Signal.received_at, Signal.filled_at, Signal.reject_reason)
        .join(Strategy, Strategy.id == Signal.strategy_id)
        .order_by(Signal.received_at.desc(), Signal.id.desc())
        .limit(limit)
    )
    if accounts:
        query = query.where(Strategy.account_id.in_(_scoped_account_ids(accounts)))
    rows = _rows(query)
    return [
        {
            "signal_id": sid,
            "strategy_name": strategy,
            "symbol": symbol,
            "side": getattr(side, "value", side),
            "quantity": quantity,
            "status": getattr(status, "value", status),
            "received_at": _iso(received),
            "filled_at": _iso(filled) if filled else None,
            "reject_reason": reason,
        }
        for sid, strategy, symbol, side, quantity, status, received, filled, reason in rows
    ]


def _iso(value: dt.datetime) -> str:
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


# --------------------------------------------------------------------------- assembly (pure)


def overview(accounts: list[dict], strategies: list[dict], positions: list[dict]) -> dict[str, Any]:
    aum = sum(a["net_contributions"] for a in accounts)
    equity = sum(a["equity"] for a in accounts)
    used = sum(a["margin_used"] for a in accounts)
    available = sum(a["margin_available"] for a in accounts)
    return {
        "total_aum": aum,
        "total_equity": equity,
        "total_pnl": equity - aum,
        "total_pnl_pct": (equity - aum) / aum * 100.0 if aum else None,
        "margin_utilization": used / available * 100.0 if available else None,
        "margin_used": used,
        "cash": sum(a["cash"] for a in accounts),
        "unrealized_pnl": sum(a["unrealized_pnl"] for a in accounts),
        "number_of_strategies": sum(1 for s in strategies if s["status"] == StrategyStatus.ACTIVE.value),
        "open_positions": len(positions),
    }


@cached_section(("trades", "strategies", "accounts"), "medium")
def strategy_results(time_range: str, as_of: str, periods_per_year: float, risk_free: float,
                     accounts: tuple[str, ...] = ()) -> list[dict]:
    """Per strategy (on ``accounts`` when given) over the range: realized PnL, trades, win rate, and the
    Sharpe of its daily equity (allocated capital - its share of the total AUM in view - plus cumulative
    realized PnL, calendar days)."""
    total_aum = sum(a["net_contributions"] for a in account_balances(as_of, accounts))
    as_of_day = pd.Timestamp(as_of)
    start = range_start(time_range, as_of_day.date())
    out = []
    for s in strategy_daily_pnl(time_range, as_of, accounts):
        days = s["days"]
        trades = sum(d[2] for d in days)
        wins = sum(d[3] for d in days)
        capital = s["allocation"] * total_aum
        sharpe = None
        if capital > 0 and days:
            first = pd.Timestamp(start) if start is not None else pd.Timestamp(days[0][0]) - pd.Timedelta(days=1)
            daily = pd.Series({pd.Timestamp(d[0]): d[1] for d in days}).reindex(
                pd.date_range(first, as_of_day, freq="D"), fill_value=0.0)
            equity_curve = capital + daily.cumsum().to_numpy()
            if (equity_curve > 0).all():
                sharpe = metrics.sharpe_ratio(metrics.returns(np.r_[capital, equity_curve]), risk_free, periods_per_year)
        out.append({
            "strategy_name": s["strategy_name"],
            "status": s["status"],
            "allocation": s["allocation"],
            "capital": capital,
            "realized_pnl": sum(d[1] for d in days),
            "win_rate": wins / trades * 100.0 if trades else None,
            "number_of_trades": trades,
            "sharpe_ratio": sharpe,
        })
    return out


def strategy_performance(results: list[dict], positions: list[dict]) -> list[dict]:
    """Realized results of the range plus each strategy's unrealized PnL now (PnL = realized + unrealized)."""
    unrealized: dict[str, float] = defaultdict(float)
    for p in positions:
        if p["unrealized_pnl"] is not None:  # an unpriced position counts for nothing (its error says so)
            unrealized[p["strategy_name"]] += p["unrealized_pnl"]
    out = []
    for r in results:
        open_pnl = unrealized[r["strategy_name"]]
        pnl = r["realized_pnl"] + open_pnl
        out.append({**r, "unrealized_pnl": open_pnl, "pnl": pnl,
                    "pnl_pct": pnl / r["capital"] * 100.0 if r["capital"] else None})
    return out


@cached_section(("accounts", "bars"), "medium")
def fund_risk(time_range: str, as_of: str, benchmark: str, periods_per_year: float, risk_free: float,
              accounts: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fund (or ``accounts``') equity curve with drawdowns, daily returns and risk metrics (beta against
    ``benchmark``)."""
    return risk_and_curves(fund_equity(time_range, as_of, accounts), benchmark_closes(benchmark, time_range, as_of),
                           periods_per_year, risk_free)


def risk_and_curves(equity_points: list[list], benchmark_points: list[list], periods_per_year: float,
                    risk_free: float) -> dict[str, Any]:
    if not equity_points:
        empty = dict.fromkeys(("max_drawdown", "var_95", "var_95_parametric", "cvar_95", "var_95_pct",
                               "cvar_95_pct", "portfolio_beta", "volatility", "sharpe_ratio", "sortino_ratio"))
        return {"risk_metrics": empty, "equity_curve": [], "daily_returns": []}
    dates = [d for d, _ in equity_points]
    equity = np.array([v for _, v in equity_points], dtype=float)
    summary = metrics.performance_summary(equity, risk_free, periods_per_year)
    latest = float(equity[-1])
    period_returns = metrics.returns(equity) if equity.size > 1 else np.array([])
    fund_returns = pd.Series(period_returns, index=pd.to_datetime(dates[1:]))
    beta = None
    if len(benchmark_points) > 1:
        closes = pd.Series([c for _, c in benchmark_points], index=pd.to_datetime([d for d, _ in benchmark_points]))
        beta = metrics.beta(fund_returns, closes.pct_change().dropna())

    def money(fraction):
        return None if fraction is None else fraction * latest

    drawdowns = metrics.drawdown_pct(equity)
    return {
        "risk_metrics": {
            "max_drawdown": summary["max_drawdown_pct"],
            "var_95": money(summary["var_95"]),
            "var_95_parametric": money(summary["var_95_parametric"]),
            "cvar_95": money(summary["cvar_95"]),
            "var_95_pct": None if summary["var_95"] is None else summary["var_95"] * 100.0,
            "cvar_95_pct": None if summary["cvar_95"] is None else summary["cvar_95"] * 100.0,
            "portfolio_beta": beta,
            "volatility": summary["volatility_pct"],
            "sharpe_ratio": summary["sharpe_ratio"],
            "sortino_ratio": summary["sortino_ratio"],
        },
        "equity_curve": [{"date": d, "equity": float(e), "drawdown_pct": float(dd)}
                         for d, e, dd in zip(dates, equity.tolist(), drawdowns.tolist())],
        "daily_returns": [{"date": d, "return_pct": r * 100.0} for d, r in zip(dates[1:], period_returns.tolist())],
    }


# --------------------------------------------------------------------------- the whole dashboard

def client_dashboard(
    time_range: str = DEFAULT_TIME_RANGE,
    *,
    as_of: dt.date | None = None,
    force: bool = False,
    fund_name: str = "Tradeboard Fund",
    benchmark: str = "SPY",
    periods_per_year: float = 252,
    risk_free: float = 0.0,
    prices: PriceProvider | None = None,
    accounts: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The client dashboard document, positions marked with ``prices`` (None: the ``bars`` provider,
    each symbol's latest stored daily close), limited to the named ``accounts`` when any are given
    (see the module's docstring; unknown names match nothing). A section whose data fails is null
    with its error in ``errors``; the others are still built."""
    check_time_range(time_range)
    scope = normalize_accounts(accounts)
    as_of_day = (as_of or dt.datetime.now(dt.UTC).date()).isoformat()
    with SectionReader(force) as sections:
        got = sections.read_parallel({
            "accounts": (account_balances, as_of_day, scope),
            "strategy_performance": (strategy_results, time_range, as_of_day, periods_per_year, risk_free, scope),
            "positions": (open_positions, scope),
            "equity": (fund_risk, time_range, as_of_day, benchmark, periods_per_year, risk_free, scope),
            "recent_signals": (recent_signals, RECENT_SIGNALS, scope),
        }, overlap=False)  # the strategies and the risk read the balances: compute those first, once
    balances, strategies, positions, curves, signals = got.values()
    positions = mark_positions(sections, positions, prices if prices is not None else price_provider_for(None))

    doc: dict[str, Any] = {"fund_name": fund_name, "as_of_date": utc_now_iso(), "time_range": time_range}
    if scope:
        doc["account_scope"] = list(scope)
    doc["overview"] = overview(balances, strategies, positions) if None not in (balances, strategies, positions) else None
    doc["accounts"] = balances
    doc["strategy_performance"] = strategy_performance(strategies, positions or []) if strategies is not None else None
    doc["positions"] = positions
    doc.update(curves or {"risk_metrics": None, "equity_curve": None, "daily_returns": None})
    doc["recent_signals"] = signals
    return sections.finish(doc)


def client_dashboard_for(settings: Any, time_range: str = DEFAULT_TIME_RANGE, force: bool = False,
                         accounts: tuple[str, ...] = ()) -> dict[str, Any]:
    """``client_dashboard`` with the fund name, benchmark, metric conventions and price provider of
    ``settings``, limited to ``accounts`` when any are given (a client user's ``account_scope``)."""
    return client_dashboard(time_range, force=force, fund_name=settings.FUND_NAME, benchmark=settings.BENCHMARK_SYMBOL,
                            periods_per_year=settings.PERIODS_PER_YEAR, risk_free=settings.RISK_FREE_RATE,
                            prices=price_provider_for(settings), accounts=accounts)
