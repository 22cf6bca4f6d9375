"""Interactive Brokers' Flex Query trades export (CSV) into executions, and the signals its orders
need.

Built from IBKR's Flex field names (Activity or Trade Confirmation Flex Query, Trades section,
CSV with column headers): ``IBExecID`` (or ``TradeID``), ``Symbol``, ``DateTime``, ``Quantity``
(negative for a sale), ``TradePrice``, ``IBCommission`` (negative: a cost), ``Buy/Sell``,
``IBOrderID``, ``OrderReference``, ``OrderTime`` and, when the query breaks trades out by level,
``LevelOfDetail`` (only ``EXECUTION`` rows are fills). IBKR writes times in the account's time
zone as ``yyyyMMdd;HHmmss`` by default; ``yyyy-MM-dd;HH:mm:ss``, a space or no separator are read too.

Each fill's signal is the order's ``OrderReference`` (the id a desk's sender puts on its orders)
where there is one, else ``ib-order-<IBOrderID>``. Signals tradeboard does not hold yet are created
with the fills (FILLED, the order's side, symbol and filled quantity, received at the order time)
under the strategy the user names; existing ones are left as they are.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from data_access import models as m
from data_access.ingest.fields import Problem
from data_access.ingest.lookup import rows_by
from data_access.ingest.parse import Parsed

NAME = "Interactive Brokers: Flex Query trades (CSV)"
ENTITY = "executions"
MARKERS = ("IBExecID", "TradePrice", "Buy/Sell")
REQUIRED = ("Symbol", "DateTime", "Quantity", "TradePrice", "Buy/Sell")
DEFAULT_TIMEZONE = "America/New_York"
# where each tradeboard field comes from, shown beside the preset
SOURCES = {"execution_id": "IBExecID (else TradeID)", "signal_id": "OrderReference (else ib-order-IBOrderID)",
           "filled_at": "DateTime", "avg_fill_price": "TradePrice", "filled_quantity": "|Quantity|",
           "commission": "-IBCommission"}
_TIME = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})[;,T ]?(\d{2}):?(\d{2}):?(\d{2})?$")


def matches(columns: list[str]) -> bool:
    return all(marker in columns for marker in MARKERS)


def _times(values: pd.Series, zone: ZoneInfo) -> pd.Series:
    """IBKR's local times as UTC ISO text; what does not read stays as sent (the check reports it)."""
    def one(value):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        found = _TIME.match(str(value).strip())
        if not found:
            return value
        y, mo, d, h, mi, s = (int(g or 0) for g in found.groups())
        try:
            local = pd.Timestamp(year=y, month=mo, day=d, hour=h, minute=mi, second=s, tz=zone)
        except ValueError:
            return value
        return local.tz_convert("UTC").isoformat()

    return values.map(one)


def _number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.map(lambda v: str(v).replace(",", "") if v is not None else v), errors="coerce")


def batches(conn: Connection, parsed: Parsed, options: dict) -> tuple[list[tuple[str, Parsed]], list[Problem]]:
    """The signals to create and the executions, as parsed batches with the file's lines; or the
    problems of the file as a whole (a missing column, no strategy for new signals)."""
    raw, lines = parsed.frame, parsed.lines
    problems = [Problem(-1, column, "is a column of IBKR's Flex trades and the file has none",
                        f"a Flex Query trades export with {', '.join(REQUIRED)}")
                for column in REQUIRED if column not in raw.columns]
    if "IBExecID" not in raw.columns and "TradeID" not in raw.columns:
        problems.append(Problem(-1, "IBExecID", "the file has neither IBExecID nor TradeID", "IBExecID or TradeID"))
    try:
        zone = ZoneInfo(options.get("timezone") or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(Problem(-1, "timezone", f"unknown time zone {options.get('timezone')!r}",
                                "an IANA time zone such as America/New_York"))
    if problems:
        return [], problems
    if "LevelOfDetail" in raw.columns:
        keep = raw["LevelOfDetail"].astype(str).str.upper().str.strip().isin(["EXECUTION", "NONE", ""]).to_numpy()
        raw, lines = raw[keep].reset_index(drop=True), lines[keep]

    def column(name):
        return raw[name] if name in raw.columns else pd.Series([None] * len(raw), dtype=object)

    def text(values):
        return values.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""
                          else str(v).strip())

    exec_id = text(column("IBExecID")).fillna(text(column("TradeID")).map(lambda v: v and f"ib-trade-{v}"))
    order = text(column("IBOrderID"))
    signal_id = text(column("OrderReference"))
    signal_id = signal_id.fillna(order.map(lambda v: v and f"ib-order-{v}")).fillna(exec_id.map(lambda v: v and f"ib-exec-{v}"))
    filled_at = _times(column("DateTime"), zone)
    quantity = _number(column("Quantity"))
    commission = -_number(column("IBCommission")) if "IBCommission" in raw.columns else pd.Series(0.0, index=raw.index)
    side = text(column("Buy/Sell")).map(lambda v: "BUY" if v and v.upper().startswith("BUY") else
                                        "SELL" if v and v.upper().startswith("SELL") else v)
    executions = pd.DataFrame({
        "execution_id": exec_id, "signal_id": signal_id, "filled_at": filled_at,
        "avg_fill_price": column("TradePrice"),
        "filled_quantity": quantity.abs().astype(object).where(quantity.notna(), column("Quantity")),
        "commission": commission.clip(lower=0).astype(object).where(commission.notna(), None),
    }).astype(object)
    new_signals, new_lines = _new_signals(conn, raw, lines, signal_id, side, quantity, filled_at, zone, options)
    out: list[tuple[str, Parsed]] = []
    if len(new_signals):
        if not options.get("strategy_name"):
            return [], [Problem(-1, "strategy_name", f"{len(new_signals):,} orders have no signal in tradeboard: "
                                "choose the strategy their signals are created under", "a strategy's name")]
        out.append(("signals", Parsed(new_signals, new_lines, [], parsed.line_kind)))
    out.append((ENTITY, Parsed(executions, lines, [], parsed.line_kind)))
    return out, []


def _new_signals(conn, raw, lines, signal_id, side, quantity, filled_at, zone, options):
    """One signal per order tradeboard does not hold yet, from the order's first fill."""
    ids = signal_id.dropna()
    known = rows_by(conn, m.Signal.__table__, "signal_id", pd.Series(pd.unique(ids)), ["id"])["signal_id"]
    fresh = signal_id.notna() & ~signal_id.isin(set(known))
    if not fresh.any():
        return pd.DataFrame(), np.zeros(0, dtype=np.int64)
    orders = pd.DataFrame({"signal_id": signal_id, "side": side, "quantity": quantity.abs(), "filled_at": filled_at,
                           "order_time": _times(raw["OrderTime"], zone) if "OrderTime" in raw.columns else filled_at,
                           "symbol": raw["Symbol"], "line": lines})[fresh.to_numpy()]
    first = orders.drop_duplicates("signal_id")
    total = orders.groupby("signal_id", sort=False)["quantity"].sum()
    signals = pd.DataFrame({
        "signal_id": first["signal_id"].to_numpy(), "strategy_name": options.get("strategy_name"),
        "symbol": first["symbol"].to_numpy(), "side": first["side"].to_numpy(),
        "quantity": total.reindex(first["signal_id"]).to_numpy(),
        "received_time": first["order_time"].fillna(first["filled_at"]).to_numpy(),
        "execution_status": "FILLED", "filled_at": first["filled_at"].to_numpy(),
    }).astype(object)
    return signals, first["line"].to_numpy()
