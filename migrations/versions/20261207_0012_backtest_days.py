"""Daily rollups of completed backtest runs: per symbol and volatility regime (backtest_symbol_days)
and per strategy kind and configuration (backtest_config_days), counted from the runs already
stored; kept from then on as runs are stored (data_access/aggregates/backtest_days.py).

Revision ID: 0012_backtest_days
Revises: 0011_signal_sort_indexes
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_backtest_days"
down_revision: str | Sequence[str] | None = "0011_signal_sort_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sums() -> list[sa.Column]:
    columns = [sa.Column("runs", sa.Integer(), nullable=False)]
    for name in ("return", "sharpe", "drawdown", "win_rate"):
        columns += [sa.Column(f"{name}_sum", sa.Float()), sa.Column(f"{name}_n", sa.Integer(), nullable=False)]
    return [*columns, sa.Column("trades", sa.Integer(), nullable=False)]


def upgrade() -> None:
    from data_access.aggregates.backtest_days import rebuild_backtest_days

    op.create_table(
        "backtest_symbol_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("symbol", sa.String(32), primary_key=True),
        sa.Column("volatility_regime", sa.String(8), primary_key=True),
        *_sums(),
        sa.Column("last_completed_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "backtest_config_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("strategy_kind", sa.String(64), primary_key=True),
        sa.Column("config_key", sa.String(256), primary_key=True),
        *_sums(),
        sa.Column("sharpe_max", sa.Float()),
        sa.Column("latest_id", sa.Integer(), nullable=False),
        sa.Column("latest_traded_id", sa.Integer()),
        sa.Column("symbols", sa.Text(), nullable=False),
    )
    rebuild_backtest_days(op.get_bind())


def downgrade() -> None:
    op.drop_table("backtest_config_days")
    op.drop_table("backtest_symbol_days")
