"""ORM models. Money is float (account currency); times are UTC, stored naive.

Indexes follow the dashboards' queries: signals by strategy and time, executions by signal,
snapshots by day, closed trades by strategy and close time, backtest runs by status and
completion time, bars by symbol/timeframe/time.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from data_access.db import Base


ROW_ID_MAX = 2 ** 63 - 1  # BIGINT and SQLite's INTEGER: no row can have a larger id


def as_row_id(value) -> int | None:
    """``value`` (an int or its decimal text) as a row id in 1..ROW_ID_MAX; None when no row can have
    it (a larger number would make the driver overflow instead of finding nothing)."""
    text = str(value).strip()
    if not text.isdecimal() or not text.isascii():
        return None
    number = int(text)
    return number if 1 <= number <= ROW_ID_MAX else None


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Store the values as plain strings (portable, readable in SQL) with a CHECK constraint.
    return Enum(cls, name=name, native_enum=False, validate_strings=True, values_callable=lambda e: [m.value for m in e],
                length=16, create_constraint=True)


class Role(str, enum.Enum):
    ADMIN = "admin"
    ANALYST = "analyst"
    CLIENT = "client"
    DEVELOPER = "developer"
    INGEST = "ingest"  # a service token: writes the book through /api/v1/ingest, reads nothing else


class SignalStatus(str, enum.Enum):
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    PENDING = "PENDING"


class Side(str, enum.Enum):
    BUY = "BUY"
    SELL = "SELL"


class StrategyStatus(str, enum.Enum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    RETIRED = "RETIRED"


class PaperSignalStatus(str, enum.Enum):
    QUEUED = "QUEUED"  # accepted, not yet executed (an exit: active)
    EXECUTED = "EXECUTED"
    REJECTED = "REJECTED"  # refused by a risk check
    SKIPPED = "SKIPPED"  # deliberately not taken (duplicate, filter)
    EXPIRED = "EXPIRED"  # not executed in time


class PaperSignalAction(str, enum.Enum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"


class RunStatus(str, enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


# --------------------------------------------------------------------------- people and access


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    # A client user may be limited to named accounts (comma-separated account names); empty = all.
    account_scope: Mapped[str | None] = mapped_column(Text, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(back_populates="tokens")


# --------------------------------------------------------------------------- the fund


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    broker: Mapped[str] = mapped_column(String(64))
    net_contributions: Mapped[float] = mapped_column(Float)  # deposits - withdrawals
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class AccountSnapshot(Base):
    """End-of-day state of an account."""

    __tablename__ = "account_snapshots"
    __table_args__ = (UniqueConstraint("account_id", "date"), Index("ix_account_snapshots_date", "date"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    date: Mapped[dt.date] = mapped_column(Date)
    equity: Mapped[float] = mapped_column(Float)
    cash: Mapped[float] = mapped_column(Float)
    margin_used: Mapped[float] = mapped_column(Float)
    margin_available: Mapped[float] = mapped_column(Float)
    unrealized_pnl: Mapped[float] = mapped_column(Float, default=0.0)


class Strategy(Base):
    __tablename__ = "strategies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    developer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    allocation: Mapped[float] = mapped_column(Float)  # share of fund capital, 0..1
    status: Mapped[StrategyStatus] = mapped_column(_enum(StrategyStatus, "strategy_status"), default=StrategyStatus.ACTIVE)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())

    developer: Mapped[User | None] = relationship()


class Signal(Base):
    __tablename__ = "signals"
    __table_args__ = (
        Index("ix_signals_strategy_received", "strategy_id", "received_at"),
        Index("ix_signals_received", "received_at"),
        # the history grid's sortable columns, each with its strategy and the receipt time that breaks
        # ties; symbol's prefix also finds a pair's fills for the FIFO derivation
        *(Index(f"ix_signals_strategy_{column}_received", "strategy_id", column, "received_at")
          for column in ("symbol", "status", "side", "quantity")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[str] = mapped_column(String(64), unique=True)  # the sender's id, e.g. sig_1732450800_5678
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[Side] = mapped_column(_enum(Side, "side"))
    quantity: Mapped[float] = mapped_column(Float)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[SignalStatus] = mapped_column(_enum(SignalStatus, "signal_status"))
    reject_reason: Mapped[str | None] = mapped_column(String(128), default=None)
    # As the sender sent it, or, when it left it out, its earliest execution's (so lag percentiles
    # need no join); ``filled_at_from_fills`` says which, and such a time follows late or corrected fills.
    filled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    filled_at_from_fills: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_signal", "signal_id"), Index("ix_executions_filled", "filled_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(64), unique=True)  # the broker's id: the ingest key
    signal_id: Mapped[int] = mapped_column(ForeignKey("signals.id", ondelete="CASCADE"))
    filled_at: Mapped[dt.datetime] = mapped_column(DateTime)
    price: Mapped[float] = mapped_column(Float)
    quantity: Mapped[float] = mapped_column(Float)
    commission: Mapped[float] = mapped_column(Float, default=0.0)


class Position(Base):
    """An open position: signed quantity (negative = short)."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("strategy_id", "symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[float] = mapped_column(Float)
    entry_price: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ClosedTrade(Base):
    __tablename__ = "closed_trades"
    __table_args__ = (Index("ix_closed_trades_strategy_closed", "strategy_id", "closed_at"),
                      Index("ix_closed_trades_strategy_symbol", "strategy_id", "symbol"))  # a pair re-derived

    id: Mapped[int] = mapped_column(primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))  # long | short
    quantity: Mapped[float] = mapped_column(Float)
    entry_price: Mapped[float] = mapped_column(Float)
    exit_price: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    commission: Mapped[float] = mapped_column(Float, default=0.0)
    realized_pnl: Mapped[float] = mapped_column(Float)


# --------------------------------------------------------------------------- paper trading


class PaperAccount(Base):
    __tablename__ = "paper_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    starting_cash: Mapped[float] = mapped_column(Float)
    cash: Mapped[float] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class PaperTrade(Base):
    """A paper trade; open while ``closed_at`` is null."""

    __tablename__ = "paper_trades"
    __table_args__ = (
        Index("ix_paper_trades_account_status", "paper_account_id", "status"),
        Index("ix_paper_trades_closed", "closed_at"),
        Index("ix_paper_trades_status_opened", "status", "opened_at"),  # the open book, newest first
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)  # the ingest key
    paper_account_id: Mapped[int] = mapped_column(ForeignKey("paper_accounts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(64))  # the signal source (strategy or provider)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))  # long | short
    quantity: Mapped[float] = mapped_column(Float)
    entry_price: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(8), default="OPEN")  # OPEN | CLOSED
    exit_price: Mapped[float | None] = mapped_column(Float, default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    realized_pnl: Mapped[float | None] = mapped_column(Float, default=None)


class PaperSignal(Base):
    """A signal received by the paper-trading engine. An executed ENTRY opened ``paper_trade_id``;
    an EXIT targets the open trade ``paper_trade_id``. Entries that were never executed are the
    shadow positions: what the book would hold had it taken them."""

    __tablename__ = "paper_signals"
    __table_args__ = (
        Index("ix_paper_signals_status_action", "status", "action", "created_at"),  # shadow: a window of missed entries
        Index("ix_paper_signals_created", "created_at"),
        Index("ix_paper_signals_trade", "paper_trade_id"),
        Index("ix_paper_signals_executed", "executed_at"),  # health's "last execution"
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)  # the ingest key
    paper_account_id: Mapped[int | None] = mapped_column(ForeignKey("paper_accounts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))  # long | short (of the position opened or closed)
    action: Mapped[PaperSignalAction] = mapped_column(_enum(PaperSignalAction, "paper_signal_action"))
    quantity: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)  # the reference price when the signal arrived
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[PaperSignalStatus] = mapped_column(_enum(PaperSignalStatus, "paper_signal_status"))
    reason: Mapped[str | None] = mapped_column(String(128), default=None)  # why rejected/skipped/expired
    paper_trade_id: Mapped[int | None] = mapped_column(ForeignKey("paper_trades.id", ondelete="SET NULL"),
                                                       default=None)
    executed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)


# --------------------------------------------------------------------------- market data and backtests


class Bar(Base):
    __tablename__ = "bars"
    __table_args__ = (UniqueConstraint("symbol", "timeframe", "time", name="uq_bars_symbol_timeframe_time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))  # 1d, 1h, 5m, ...
    time: Mapped[dt.datetime] = mapped_column(DateTime)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float, default=0.0)


class BacktestSweep(Base):
    """A parameter sweep (grid over parameters x symbols) run as a Celery group: its request, its
    progress, and - once done - the configuration it recommends, chosen in-sample and reported
    out-of-sample (the strategy dashboard's ``mlOptimization``)."""

    __tablename__ = "backtest_sweeps"
    __table_args__ = (Index("ix_backtest_sweeps_status_completed", "status", "completed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    strategy_kind: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict] = mapped_column(JSON)  # parameter grid, symbols, window, cash
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"), default=RunStatus.PENDING)
    # members (configuration x symbol); their outcome is their run row (COMPLETED or FAILED with its error)
    total: Mapped[int] = mapped_column(Integer, default=0)
    recommendation: Mapped[dict | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)  # members not run yet are skipped


class BacktestRun(Base):
    """One backtest: its configuration, window, status and headline metrics (as columns, so the
    strategy dashboard aggregates them in SQL) plus every run metric as JSON."""

    __tablename__ = "backtest_runs"
    __table_args__ = (
        # a sweep member is stored once, however often its task is delivered
        UniqueConstraint("sweep_id", "config_key", "symbol", name="uq_backtest_runs_sweep_member"),
        Index("ix_backtest_runs_status_completed", "status", "completed_at"),
        Index("ix_backtest_runs_kind_completed", "strategy_kind", "completed_at"),
        Index("ix_backtest_runs_symbol", "symbol"),
        Index("ix_backtest_runs_created_id", "created_at", "id"),  # GET /api/v1/backtests pages newest first
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    strategy_kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict] = mapped_column(JSON)
    config_key: Mapped[str] = mapped_column(String(256))  # canonical "kind fast=10 slow=30" for grouping
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8), default="1d")
    start: Mapped[dt.datetime] = mapped_column(DateTime)
    end: Mapped[dt.datetime] = mapped_column(DateTime)
    cash: Mapped[float] = mapped_column(Float, default=100_000.0)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"), default=RunStatus.PENDING)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=None)
    # headline metrics, null until completed (and null when undefined)
    total_return_pct: Mapped[float | None] = mapped_column(Float, default=None)
    sharpe_ratio: Mapped[float | None] = mapped_column(Float, default=None)
    max_drawdown_pct: Mapped[float | None] = mapped_column(Float, default=None)
    win_rate_pct: Mapped[float | None] = mapped_column(Float, default=None)
    number_of_trades: Mapped[int | None] = mapped_column(Integer, default=None)
    underlying_volatility_pct: Mapped[float | None] = mapped_column(Float, default=None)
    volatility_regime: Mapped[str | None] = mapped_column(String(8), default=None)  # low | medium | high
    metrics: Mapped[dict | None] = mapped_column(JSON, default=None)
    sweep_id: Mapped[int | None] = mapped_column(ForeignKey("backtest_sweeps.id", ondelete="SET NULL"), default=None)

    trades: Mapped[list[BacktestTrade]] = relationship(back_populates="run", cascade="all, delete-orphan")
    equity_curve: Mapped[BacktestEquityCurve | None] = relationship(back_populates="run", cascade="all, delete-orphan")


class BacktestTrade(Base):
    __tablename__ = "backtest_trades"
    __table_args__ = (Index("ix_backtest_trades_run", "run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("backtest_runs.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(Integer)
    entry_time: Mapped[dt.datetime] = mapped_column(DateTime)
    entry_price: Mapped[float] = mapped_column(Float)
    exit_time: Mapped[dt.datetime] = mapped_column(DateTime)
    exit_price: Mapped[float] = mapped_column(Float)
    pnl: Mapped[float] = mapped_column(Float)
    commission: Mapped[float] = mapped_column(Float, default=0.0)
    closed_at_end: Mapped[bool] = mapped_column(Boolean, default=False)

    run: Mapped[BacktestRun] = relationship(back_populates="trades")


class BacktestEquityCurve(Base):
    """A run's equity curve as two JSON arrays (ISO times, values): read whole, never queried by point."""

    __tablename__ = "backtest_equity_curves"

    run_id: Mapped[int] = mapped_column(ForeignKey("backtest_runs.id", ondelete="CASCADE"), primary_key=True)
    times: Mapped[list] = mapped_column(JSON)
    equity: Mapped[list] = mapped_column(JSON)

    run: Mapped[BacktestRun] = relationship(back_populates="equity_curve")


# --------------------------------------------------------------------------- operations


class DailySummary(Base):
    """The end-of-day summary of the fund or one strategy (one row per day and subject)."""

    __tablename__ = "daily_summaries"
    __table_args__ = (UniqueConstraint("date", "scope", "name", name="uq_daily_summaries_date_scope_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(16))  # fund | strategy | paper
    name: Mapped[str] = mapped_column(String(128))
    summary: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class TableVersion(Base):
    """A counter that database triggers raise with every change to a group of tables, so a
    real-time read can tell that nothing changed since its last read (``data_access.change_stamps``;
    migrations 0006 and 0014). ``epoch`` is drawn when the row is created: a database rebuilt at the same
    URL never repeats an earlier (epoch, version)."""

    __tablename__ = "table_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(BigInteger)


from data_access.rollup_models import (  # noqa: E402  (re-exported)
    BacktestConfigDay, BacktestSymbolDay, SignalDay, SignalLagDay, TradeDay)
from data_access.import_models import Import, ImportChunk, ImportPreset  # noqa: E402  (re-exported)
