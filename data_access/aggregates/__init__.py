"""Daily rollups kept at write time, so a dashboard's cost follows the days it shows, not the rows
behind them: ``trade_days`` (closed trades summed per strategy and day) and ``signal_days`` with
``signal_lag_days`` (signals counted per strategy, day, status and reason; fill lags as a sketch),
``backtest_symbol_days`` and ``backtest_config_days`` (completed backtests summed per day).
Each is written in the transaction that writes its rows; ``rebuild_aggregates`` (``tradeboard
rebuild-aggregates``) sums them all again from the raw rows."""

from sqlalchemy import Connection

from data_access.aggregates.backtest_days import rebuild_backtest_days
from data_access.aggregates.days import Key
from data_access.aggregates.signal_days import rebuild_signal_days
from data_access.aggregates.trade_days import add_trade_days, rebuild_trade_days, recount_trade_days, trade_days_of


def rebuild_aggregates(conn: Connection) -> dict[str, int]:
    """Every rollup summed again from the raw rows; (strategy, day) pairs written per rollup."""
    return {"trade_days": rebuild_trade_days(conn), "signal_days": rebuild_signal_days(conn),
            "backtest_days": rebuild_backtest_days(conn)}


__all__ = ["Key", "add_trade_days", "rebuild_aggregates", "rebuild_backtest_days", "rebuild_signal_days", "rebuild_trade_days",
           "recount_trade_days", "trade_days_of"]
