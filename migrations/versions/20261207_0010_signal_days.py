"""Daily rollups of signals per strategy: counts per status and rejection reason (signal_days) and
the fill lags as a sketch (signal_lag_days), filled from the signals already stored; kept from then
on in the transactions that write signals (data_access/aggregates/signal_days.py).

Revision ID: 0010_signal_days
Revises: 0009_trade_days
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_signal_days"
down_revision: str | Sequence[str] | None = "0009_trade_days"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from data_access.aggregates.signal_days import rebuild_signal_days

    def strategy() -> sa.Column:
        return sa.Column("strategy_id", sa.Integer(), sa.ForeignKey("strategies.id", ondelete="CASCADE"),
                         primary_key=True)

    op.create_table(
        "signal_days", strategy(),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("status", sa.String(16), primary_key=True),
        sa.Column("reject_reason", sa.String(128), primary_key=True),
        sa.Column("signals", sa.Integer(), nullable=False),
    )
    op.create_table(
        "signal_lag_days", strategy(),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("fills", sa.Integer(), nullable=False),
        sa.Column("lag_sum", sa.Float(), nullable=False),
        sa.Column("sketch", sa.LargeBinary(), nullable=False),
    )
    rebuild_signal_days(op.get_bind())


def downgrade() -> None:
    op.drop_table("signal_lag_days")
    op.drop_table("signal_days")
