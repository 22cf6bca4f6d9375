"""Daily rollups of closed trades per strategy (trade_days), filled from the trades already stored;
kept from then on in the transaction that writes trades (data_access/aggregates.py).

Revision ID: 0009_trade_days
Revises: 0008_derivation_indexes
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_trade_days"
down_revision: str | Sequence[str] | None = "0008_derivation_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from data_access.aggregates import rebuild_trade_days

    op.create_table(
        "trade_days",
        sa.Column("strategy_id", sa.Integer(), sa.ForeignKey("strategies.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("realized_pnl", sa.Float(), nullable=False),
        sa.Column("trades", sa.Integer(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("losses", sa.Integer(), nullable=False),
        sa.Column("gross_win", sa.Float(), nullable=False),
        sa.Column("gross_loss", sa.Float(), nullable=False),
    )
    rebuild_trade_days(op.get_bind())


def downgrade() -> None:
    op.drop_table("trade_days")
