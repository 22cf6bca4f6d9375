"""What can be ingested: per entity its fields (the reference systems' names), its key, the rows it
refers to, the cross-field rules, how a clean row becomes table columns, and the cache families
a write of it changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Table

from data_access import models as m
from data_access.bars_import import TIMEFRAMES
from data_access.ingest.fields import Field, Problem
from data_access.ingest.upsert import same_values


@dataclass(frozen=True)
class Ref:
    """``field`` names a row of ``table`` by its ``column``; resolved to that row's id."""

    field: str
    table: Table
    column: str
    what: str  # "strategy", "account", ...
    where: str  # how such a row gets in
    carry: tuple[str, ...] = ()  # more columns of the rows found, read with the ids for the writer's later steps


@dataclass(frozen=True)
class Entity:
    name: str
    table: Table
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # table columns
    families: tuple[str, ...]
    refs: tuple[Ref, ...] = ()
    rules: Callable[[pd.DataFrame], list[Problem]] | None = None
    columns: Callable[[pd.DataFrame, dict[str, np.ndarray]], dict[str, pd.Series]] | None = None
    example: dict | None = None
    # An optional value a row leaves out keeps what is stored under its key; a new row gets the default.
    kept: tuple[str, ...] = ()  # table columns
    # a kept column that follows from others (a trade's PnL from its prices) is kept only while they are unchanged
    kept_while: dict[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # a value, or a function of the rows
    then: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # columns that follow from the others
    key_names: tuple[str, ...] = ()  # the key as the sender names it, where that differs from the columns

    @property
    def key_fields(self) -> tuple[str, ...]:
        return self.key_names or self.key

    def complete(self, rows: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
        """``rows`` with what they leave out taken from ``stored`` (aligned with them; null where new)."""
        for name in self.kept:
            keep = rows[name].isna().to_numpy().copy()
            for other in self.kept_while.get(name, ()):
                keep &= same_values(rows[other], stored[other])
            rows[name] = rows[name].where(~keep, stored[name])
        for name, default in self.defaults.items():
            rows[name] = rows[name].where(rows[name].notna(), default(rows) if callable(default) else default)
        return self.then(rows) if self.then is not None else rows

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)


def _ref(what: str, route: str) -> str:
    return f"the {what} of an earlier POST /api/v1/ingest/{route}"


def _rule(frame: pd.DataFrame, bad: pd.Series, field: str, message: Callable[[int], str], valid: str) -> list[Problem]:
    rows = np.flatnonzero(bad.fillna(False).to_numpy(dtype=bool))
    return [Problem(int(r), field, message(int(r)), valid) for r in rows]


def _not_before(frame: pd.DataFrame, later: str, earlier: str) -> list[Problem]:
    bad = frame[later].notna() & frame[earlier].notna() & (frame[later] < frame[earlier])
    return _rule(frame, bad, later, lambda r: f"{frame[later].iat[r]} is before {earlier} {frame[earlier].iat[r]}",
                 f"a time at or after {earlier}")


def _both_or_neither(frame: pd.DataFrame, a: str, b: str) -> list[Problem]:
    bad = frame[a].isna() != frame[b].isna()
    return _rule(frame, bad, a if frame[a].isna().any() else b,
                 lambda r: f"{a} and {b} go together: a closed trade has both, an open one neither",
                 f"both {a} and {b}, or neither")


# --------------------------------------------------------------------------- the fund


def _accounts(frame, _ids):
    return {"name": frame["account_name"], "broker": frame["broker"],
            "net_contributions": frame["net_contributions"], "currency": frame["currency"]}


def _snapshots(frame, ids):
    return {"account_id": ids["account_name"], "date": frame["date"], "equity": frame["equity"],
            "cash": frame["cash"], "margin_used": frame["margin_used"],
            "margin_available": frame["margin_available"], "unrealized_pnl": frame["unrealized_pnl"]}


def _strategies(frame, ids):
    return {"name": frame["strategy_name"], "account_id": ids["account_name"], "allocation": frame["allocation"],
            "status": frame["status"], "developer_id": ids["developer"]}


def _signal_rules(frame):
    return _not_before(frame, "filled_at", "received_time")


def _signals(frame, ids):
    return {"signal_id": frame["signal_id"], "strategy_id": ids["strategy_name"], "symbol": frame["symbol"],
            "side": frame["side"], "quantity": frame["quantity"], "received_at": frame["received_time"],
            "status": frame["execution_status"], "reject_reason": frame["reject_reason"],
            "filled_at": frame["filled_at"],
            # a time sent is the sender's; one left out keeps what is stored (the fills' time, or none)
            "filled_at_from_fills": pd.Series(np.where(frame["filled_at"].notna(), False, None), index=frame.index,
                                              dtype=object)}


def _executions(frame, ids):
    return {"execution_id": frame["execution_id"], "signal_id": ids["signal_id"], "filled_at": frame["filled_at"],
            "price": frame["avg_fill_price"], "quantity": frame["filled_quantity"],
            "commission": frame["commission"]}


# --------------------------------------------------------------------------- paper trading


def _paper_accounts(frame, _ids):
    return {"name": frame["account"], "starting_cash": frame["starting_cash"],
            "cash": frame["cash"]}


def _paper_trade_rules(frame):
    return _both_or_neither(frame, "exit_price", "closed_at") + _not_before(frame, "closed_at", "opened_at")


def _paper_trades(frame, ids):
    return {"external_id": frame["trade_id"], "paper_account_id": ids["account"], "source": frame["source"],
            "symbol": frame["symbol"], "side": frame["side"], "quantity": frame["quantity"],
            "entry_price": frame["entry_price"], "opened_at": frame["opened_at"],
            "status": pd.Series(None, index=frame.index, dtype=object),
            "exit_price": frame["exit_price"], "closed_at": frame["closed_at"], "realized_pnl": frame["realized_pnl"]}


def _paper_trade_state(rows: pd.DataFrame) -> pd.DataFrame:
    """Open while it has no close; a closed trade's PnL, when not sent, from its prices."""
    closed = rows["closed_at"].notna()
    rows["status"] = np.where(closed, "CLOSED", "OPEN")
    direction = np.where(rows["side"] == "short", -1.0, 1.0)
    computed = (direction * rows["quantity"] * (rows["exit_price"] - rows["entry_price"])).round(2)
    rows["realized_pnl"] = rows["realized_pnl"].where(rows["realized_pnl"].notna() | ~closed, computed)
    return rows


def _paper_signal_rules(frame):
    return _not_before(frame, "executed_at", "signal_at")


def _paper_signals(frame, ids):
    return {"external_id": frame["signal_id"], "paper_account_id": ids["account"], "source": frame["source"],
            "symbol": frame["symbol"], "side": frame["side"], "action": frame["action"],
            "quantity": frame["quantity"], "price": frame["price"], "created_at": frame["signal_at"],
            "status": frame["status"], "reason": frame["reason"], "paper_trade_id": ids["trade_id"],
            "executed_at": frame["executed_at"]}


# --------------------------------------------------------------------------- market data


def _bar_rules(frame):
    body_high = frame[["open", "close", "low"]].max(axis=1)
    body_low = frame[["open", "close"]].min(axis=1)
    return (_rule(frame, frame["high"] < body_high, "high",
                  lambda r: f"high {frame['high'].iat[r]:g} is below the bar's open, close or low",
                  "high >= open, close, low")
            + _rule(frame, frame["low"] > body_low, "low",
                    lambda r: f"low {frame['low'].iat[r]:g} is above the bar's open or close", "low <= open, close"))


def _bars(frame, _ids):
    return {"symbol": frame["symbol"], "timeframe": frame["timeframe"], "time": frame["time"],
            "open": frame["open"], "high": frame["high"], "low": frame["low"], "close": frame["close"],
            "volume": frame["volume"]}


def _text(name, max_len=64, required=True, description=""):
    return Field(name, "text", required, max_len, description=description)


def _choice(name, choices, required=True, case="upper", description=""):
    return Field(name, "choice", required, 16, tuple(choices), case, description=description)


DEVELOPER_ENTITIES = ("signals", "executions")  # what a developer may write, for their own strategies
SIGNAL_STATUSES = tuple(s.value for s in m.SignalStatus)
SIDES = tuple(s.value for s in m.Side)

ENTITIES: dict[str, Entity] = {e.name: e for e in (
    Entity("accounts", m.Account.__table__,
           (_text("account_name", 128), _text("broker"), Field("net_contributions", "number"),
            Field("currency", "symbol", False, 8, description="default USD")),
           ("name",), ("accounts",), key_names=("account_name",), columns=_accounts, kept=("currency",),
           defaults={"currency": "USD"},
           example={"account_name": "IBKR Main", "broker": "IBKR", "net_contributions": 2500000, "currency": "USD"}),
    Entity("account-snapshots", m.AccountSnapshot.__table__,
           (_text("account_name", 128), Field("date", "date"), Field("equity", "number"), Field("cash", "number"),
            Field("margin_used", "nonneg"), Field("margin_available", "nonneg"),
            Field("unrealized_pnl", "number", False, description="default 0")),
           ("account_id", "date"), ("accounts",), key_names=("account_name", "date"),
           refs=(Ref("account_name", m.Account.__table__, "name", "account", _ref("account_name", "accounts")),),
           columns=_snapshots, kept=("unrealized_pnl",), defaults={"unrealized_pnl": 0.0},
           example={"account_name": "IBKR Main", "date": "2026-12-04", "equity": 2614000.5, "cash": 1200000,
                    "margin_used": 350000, "margin_available": 1650000, "unrealized_pnl": 14000.5}),
    Entity("strategies", m.Strategy.__table__,
           (_text("strategy_name", 128), _text("account_name", 128, False), Field("allocation", "fraction"),
            _choice("status", [s.value for s in m.StrategyStatus], False, description="default ACTIVE"),
            _text("developer", 64, False, "a username")),
           ("name",), ("strategies",), key_names=("strategy_name",),
           refs=(Ref("account_name", m.Account.__table__, "name", "account", _ref("account_name", "accounts")),
                 Ref("developer", m.User.__table__, "username", "user",
                     "a username made with `tradeboard create-user`")),
           columns=_strategies, kept=("account_id", "status", "developer_id"), defaults={"status": "ACTIVE"},
           example={"strategy_name": "Momentum US", "account_name": "IBKR Main", "allocation": 0.25,
                    "status": "ACTIVE", "developer": "alice"}),
    Entity("signals", m.Signal.__table__,
           (_text("signal_id"), _text("strategy_name", 128), Field("symbol", "symbol", max_len=32),
            _choice("side", SIDES), Field("quantity", "positive"), Field("received_time", "time"),
            _choice("execution_status", SIGNAL_STATUSES), _text("reject_reason", 128, False),
            Field("filled_at", "time", False)),
           ("signal_id",), ("signals",),
           refs=(Ref("strategy_name", m.Strategy.__table__, "name", "strategy", _ref("strategy_name", "strategies")),),
           rules=_signal_rules, columns=_signals, kept=("reject_reason", "filled_at", "filled_at_from_fills"),
           defaults={"filled_at_from_fills": False},
           example={"signal_id": "sig_1733580000_0001", "strategy_name": "Momentum US", "symbol": "AAPL",
                    "side": "BUY", "quantity": 100, "received_time": "2026-12-07T14:30:00Z",
                    "execution_status": "FILLED", "reject_reason": None, "filled_at": "2026-12-07T14:30:00.850Z"}),
    Entity("executions", m.Execution.__table__,
           (_text("execution_id"), _text("signal_id"), Field("filled_at", "time"),
            Field("avg_fill_price", "positive"), Field("filled_quantity", "positive"),
            Field("commission", "nonneg", False, description="default 0")),
           ("execution_id",), ("signals", "positions", "trades"),
           refs=(Ref("signal_id", m.Signal.__table__, "signal_id", "signal", _ref("signal_id", "signals"),
                     carry=("strategy_id", "symbol", "side", "filled_at", "filled_at_from_fills")),),
           columns=_executions, kept=("commission",), defaults={"commission": 0.0},
           example={"execution_id": "exe_88213", "signal_id": "sig_1733580000_0001",
                    "filled_at": "2026-12-07T14:30:00.850Z", "avg_fill_price": 243.12, "filled_quantity": 100,
                    "commission": 0.35}),
    Entity("paper-accounts", m.PaperAccount.__table__,
           (_text("account", 128), Field("starting_cash", "positive"),
            Field("cash", "number", False, description="default starting_cash")),
           ("name",), ("paper",), key_names=("account",), columns=_paper_accounts, kept=("cash",),
           defaults={"cash": lambda rows: rows["starting_cash"]},
           example={"account": "Paper Alpha Lab", "starting_cash": 100000, "cash": 100000}),
    Entity("paper-trades", m.PaperTrade.__table__,
           (_text("trade_id"), _text("account", 128), _text("source"), Field("symbol", "symbol", max_len=32),
            _choice("side", ["long", "short"], case="lower"), Field("quantity", "positive"),
            Field("entry_price", "positive"), Field("opened_at", "time"), Field("exit_price", "positive", False),
            Field("closed_at", "time", False),
            Field("realized_pnl", "number", False, description="default (exit - entry) x quantity, signed by side")),
           ("external_id",), ("paper",), key_names=("trade_id",),
           refs=(Ref("account", m.PaperAccount.__table__, "name", "paper account", _ref("account", "paper-accounts")),),
           rules=_paper_trade_rules, columns=_paper_trades, kept=("exit_price", "closed_at", "realized_pnl"),
           kept_while={"realized_pnl": ("side", "quantity", "entry_price", "exit_price")}, then=_paper_trade_state,
           example={"trade_id": "pt_5001", "account": "Paper Alpha Lab", "source": "momentum-v2", "symbol": "NVDA",
                    "side": "long", "quantity": 20, "entry_price": 131.4, "opened_at": "2026-12-07T15:02:11Z",
                    "exit_price": None, "closed_at": None, "realized_pnl": None}),
    Entity("paper-signals", m.PaperSignal.__table__,
           (_text("signal_id"), _text("account", 128), _text("source"), Field("symbol", "symbol", max_len=32),
            _choice("side", ["long", "short"], case="lower"),
            _choice("action", [a.value for a in m.PaperSignalAction]), Field("quantity", "positive"),
            Field("price", "positive"), Field("signal_at", "time"),
            _choice("status", [s.value for s in m.PaperSignalStatus]), _text("reason", 128, False),
            _text("trade_id", 64, False, "the paper trade it opened (ENTRY) or targets (EXIT)"),
            Field("executed_at", "time", False)),
           ("external_id",), ("paper",), key_names=("signal_id",),
           refs=(Ref("account", m.PaperAccount.__table__, "name", "paper account", _ref("account", "paper-accounts")),
                 Ref("trade_id", m.PaperTrade.__table__, "external_id", "paper trade",
                     _ref("trade_id", "paper-trades"))),
           rules=_paper_signal_rules, columns=_paper_signals, kept=("reason", "paper_trade_id", "executed_at"),
           example={"signal_id": "ps_9001", "account": "Paper Alpha Lab", "source": "momentum-v2", "symbol": "NVDA",
                    "side": "long", "action": "ENTRY", "quantity": 20, "price": 131.2,
                    "signal_at": "2026-12-07T15:02:10Z", "status": "EXECUTED", "reason": None, "trade_id": "pt_5001",
                    "executed_at": "2026-12-07T15:02:11Z"}),
    Entity("bars", m.Bar.__table__,
           (Field("symbol", "symbol", max_len=32), _choice("timeframe", TIMEFRAMES, case="lower"),
            Field("time", "time"), Field("open", "positive"), Field("high", "positive"), Field("low", "positive"),
            Field("close", "positive"), Field("volume", "nonneg", False, description="default 0")),
           ("symbol", "timeframe", "time"), ("bars",), rules=_bar_rules, columns=_bars, kept=("volume",),
           defaults={"volume": 0.0},
           example={"symbol": "SPY", "timeframe": "1d", "time": "2026-12-04T00:00:00Z", "open": 602.1,
                    "high": 606.8, "low": 600.9, "close": 605.3, "volume": 51234000}),
)}
