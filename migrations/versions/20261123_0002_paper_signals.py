"""Paper signals: entries and exits received by the paper-trading engine (queued, executed,
rejected, skipped, expired), for shadow positions, exit/queued signals and source performance.

Revision ID: 0002_paper_signals
Revises: 0001_initial
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_paper_signals"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "paper_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_account_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("action", _enum("paper_signal_action", "ENTRY", "EXIT"), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", _enum("paper_signal_status", "QUEUED", "EXECUTED", "REJECTED", "SKIPPED", "EXPIRED"),
                  nullable=False),
        sa.Column("reason", sa.String(length=128), nullable=True),
        sa.Column("paper_trade_id", sa.Integer(), nullable=True),
        sa.Column("executed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["paper_account_id"], ["paper_accounts.id"],
                                name="fk_paper_signals_paper_account_id_paper_accounts", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["paper_trade_id"], ["paper_trades.id"],
                                name="fk_paper_signals_paper_trade_id_paper_trades", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_paper_signals"),
    )
    op.create_index("ix_paper_signals_status_action", "paper_signals", ["status", "action"])
    op.create_index("ix_paper_signals_created", "paper_signals", ["created_at"])
    op.create_index("ix_paper_signals_trade", "paper_signals", ["paper_trade_id"])
    op.create_index("ix_paper_signals_executed", "paper_signals", ["executed_at"])


def downgrade() -> None:
    op.drop_table("paper_signals")
