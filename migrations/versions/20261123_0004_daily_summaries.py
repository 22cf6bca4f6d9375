"""End-of-day summaries of the fund, each strategy and the paper book.

Revision ID: 0004_daily_summaries
Revises: 0003_backtest_sweeps
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_daily_summaries"
down_revision: str | Sequence[str] | None = "0003_backtest_sweeps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_daily_summaries"),
        sa.UniqueConstraint("date", "scope", "name", name="uq_daily_summaries_date_scope_name"),
    )


def downgrade() -> None:
    op.drop_table("daily_summaries")
