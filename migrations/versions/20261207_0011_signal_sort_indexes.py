"""Indexes that serve each sortable column of the signal history grid with its strategy: (strategy,
column, received_at) for symbol, status, side and quantity; (strategy, received_at) serves the
time. The grid breaks ties by receipt time in the sort's own direction, so one index walked either
way serves ascending and descending. The symbol and status ones replace the (strategy, symbol) and
(strategy, status) indexes, whose prefix they keep for the FIFO derivation and status lookups.

Revision ID: 0011_signal_sort_indexes
Revises: 0010_signal_days
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_signal_sort_indexes"
down_revision: str | Sequence[str] | None = "0010_signal_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORTED = ("symbol", "status", "side", "quantity")


def upgrade() -> None:
    op.drop_index("ix_signals_strategy_symbol", table_name="signals")
    op.drop_index("ix_signals_strategy_status", table_name="signals")
    for column in SORTED:
        op.create_index(f"ix_signals_strategy_{column}_received", "signals", ["strategy_id", column, "received_at"])


def downgrade() -> None:
    for column in SORTED:
        op.drop_index(f"ix_signals_strategy_{column}_received", table_name="signals")
    op.create_index("ix_signals_strategy_status", "signals", ["strategy_id", "status"])
    op.create_index("ix_signals_strategy_symbol", "signals", ["strategy_id", "symbol"])
