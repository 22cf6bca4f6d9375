"""The daily rollups' tables (data_access/aggregates/): sums kept in the transaction that writes the
rows they sum, so dashboards read days, not rows. Re-exported by data_access.models."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from data_access.db import Base


class TradeDay(Base):
    """A strategy's closed trades of one UTC day, summed (data_access/aggregates.py): kept in the
    transaction that writes the trades, so dashboards read days, not trades."""

    __tablename__ = "trade_days"

    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    realized_pnl: Mapped[float] = mapped_column(Float)
    trades: Mapped[int] = mapped_column(Integer)
    wins: Mapped[int] = mapped_column(Integer)  # realized PnL above 0
    losses: Mapped[int] = mapped_column(Integer)  # below 0
    gross_win: Mapped[float] = mapped_column(Float)
    gross_loss: Mapped[float] = mapped_column(Float)  # a sum of negative PnL


class SignalDay(Base):
    """A strategy's signals received on one UTC day, counted per status and rejection reason
    (data_access/aggregates/signal_days.py; '' for no reason): kept with the signals' writes."""

    __tablename__ = "signal_days"

    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    reject_reason: Mapped[str] = mapped_column(String(128), primary_key=True)
    signals: Mapped[int] = mapped_column(Integer)


class SignalLagDay(Base):
    """The signal-to-fill lags of a strategy's filled signals received on one UTC day: how many, their
    sum and a sketch (analytics/lag_sketch.py: int32 pairs of bucket and count, within 1 %)."""

    __tablename__ = "signal_lag_days"

    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    fills: Mapped[int] = mapped_column(Integer)
    lag_sum: Mapped[float] = mapped_column(Float)
    sketch: Mapped[bytes] = mapped_column(LargeBinary)


class _RunSums:
    """What a backtest rollup row sums of its runs: how many, and each averaged metric as a sum and a
    count of the runs that have it (SQL's AVG skips nulls), and their trades."""

    runs: Mapped[int] = mapped_column(Integer)
    return_sum: Mapped[float | None] = mapped_column(Float)
    return_n: Mapped[int] = mapped_column(Integer)
    sharpe_sum: Mapped[float | None] = mapped_column(Float)
    sharpe_n: Mapped[int] = mapped_column(Integer)
    drawdown_sum: Mapped[float | None] = mapped_column(Float)
    drawdown_n: Mapped[int] = mapped_column(Integer)
    win_rate_sum: Mapped[float | None] = mapped_column(Float)
    win_rate_n: Mapped[int] = mapped_column(Integer)
    trades: Mapped[int] = mapped_column(Integer)


class BacktestSymbolDay(_RunSums, Base):
    """Completed backtest runs of one UTC day per symbol and volatility regime ('' for none), summed
    (data_access/aggregates/backtest_days.py): sums and non-null counts of each averaged metric."""

    __tablename__ = "backtest_symbol_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    volatility_regime: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_completed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class BacktestConfigDay(_RunSums, Base):
    """Completed backtest runs of one UTC day per strategy kind and configuration, summed as above,
    with the best Sharpe, the latest run (and latest with trades) and the symbols run (comma-joined)."""

    __tablename__ = "backtest_config_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    strategy_kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    config_key: Mapped[str] = mapped_column(String(256), primary_key=True)
    sharpe_max: Mapped[float | None] = mapped_column(Float)
    latest_id: Mapped[int] = mapped_column(Integer)
    latest_traded_id: Mapped[int | None] = mapped_column(Integer)
    symbols: Mapped[str] = mapped_column(Text)
