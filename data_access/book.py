"""What the desk's book holds so far: whether each kind of record the pages read exists at all, so a
page over an empty book can say what is missing and how to bring it in instead of drawing empty charts.
One EXISTS query per kind (an index probe), read live: after an import the next tick shows the pages."""

from __future__ import annotations

from sqlalchemy import exists, select

from data_access.db import current_engine
from data_access.models import (Account, AccountSnapshot, BacktestRun, Bar, Execution, PaperAccount, PaperTrade,
                                RunStatus, Signal, Strategy)

KINDS = {
    "accounts": Account,
    "account_snapshots": AccountSnapshot,
    "strategies": Strategy,
    "signals": Signal,
    "executions": Execution,
    "paper_accounts": PaperAccount,
    "paper_trades": PaperTrade,
    "bars": Bar,
}


def book_contents() -> dict[str, bool]:
    """``{kind: has any row}`` for KINDS and ``backtests`` (completed runs)."""
    queries = {kind: select(exists().select_from(model)) for kind, model in KINDS.items()}
    queries["backtests"] = select(exists().where(BacktestRun.status == RunStatus.COMPLETED))
    with current_engine().connect() as connection:
        return {kind: bool(connection.scalar(query)) for kind, query in queries.items()}


def has_signals(strategy_id: int) -> bool:
    """Whether the strategy has sent any signal, ever (the page's time range aside)."""
    with current_engine().connect() as connection:
        return bool(connection.scalar(select(exists().where(Signal.strategy_id == strategy_id))))
