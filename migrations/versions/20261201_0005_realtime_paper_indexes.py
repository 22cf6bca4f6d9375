"""Indexes for the real-time paper-trading reads (run on every request, never cached):

- paper signals by status and action *within a time window*: the (status, action) index alone made
  the shadow positions (missed entries of the last days) scan every missed signal ever (5 ms at
  `large` scale, 0.6 ms with the window);
- open paper trades by status, newest first: the open book scanned every trade ever (0.9 ms, 0.07 ms).

Revision ID: 0005_realtime_paper_indexes
Revises: 0004_daily_summaries
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_realtime_paper_indexes"
down_revision: str | Sequence[str] | None = "0004_daily_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_paper_signals_status_action", table_name="paper_signals")
    op.create_index("ix_paper_signals_status_action", "paper_signals", ["status", "action", "created_at"])
    op.create_index("ix_paper_trades_status_opened", "paper_trades", ["status", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_paper_trades_status_opened", table_name="paper_trades")
    op.drop_index("ix_paper_signals_status_action", table_name="paper_signals")
    op.create_index("ix_paper_signals_status_action", "paper_signals", ["status", "action"])
