"""Indexes for the FIFO derivation of positions and closed trades (data_access/ingest/derive.py):

- signals by (strategy_id, symbol): a pair's fills are found through its signals; through
  (strategy_id, status) a full derivation read every signal of the strategy once per symbol (most
  of the 9 s it spent reading fills at `large` scale);
- closed trades by (strategy_id, symbol): re-deriving a pair deletes its trades;
- backtest runs by (created_at, id): GET /api/v1/backtests pages through them newest first (a keyset),
  which without it scanned and sorted the whole table for each page.

Revision ID: 0008_derivation_indexes
Revises: 0007_ingest_keys
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_derivation_indexes"
down_revision: str | Sequence[str] | None = "0007_ingest_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_signals_strategy_symbol", "signals", ["strategy_id", "symbol"])
    op.create_index("ix_closed_trades_strategy_symbol", "closed_trades", ["strategy_id", "symbol"])
    op.create_index("ix_backtest_runs_created_id", "backtest_runs", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_backtest_runs_created_id", table_name="backtest_runs")
    op.drop_index("ix_closed_trades_strategy_symbol", table_name="closed_trades")
    op.drop_index("ix_signals_strategy_symbol", table_name="signals")
