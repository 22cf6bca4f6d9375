"""Backtest sweeps: a parameter grid run as a Celery group and its out-of-sample recommendation;
each run may belong to one, once per (configuration, symbol).

Revision ID: 0003_backtest_sweeps
Revises: 0002_paper_signals
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_backtest_sweeps"
down_revision: str | Sequence[str] | None = "0002_paper_signals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backtest_sweeps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("strategy_kind", sa.String(length=64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum("PENDING", "RUNNING", "COMPLETED", "FAILED", name="run_status", native_enum=False,
                                    create_constraint=True, length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("recommendation", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_sweeps"),
        sa.UniqueConstraint("task_id", name="uq_backtest_sweeps_task_id"),
    )
    op.create_index("ix_backtest_sweeps_status_completed", "backtest_sweeps", ["status", "completed_at"])
    with op.batch_alter_table("backtest_runs") as batch:
        batch.add_column(sa.Column("sweep_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_backtest_runs_sweep_id_backtest_sweeps", "backtest_sweeps", ["sweep_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_unique_constraint("uq_backtest_runs_sweep_member", ["sweep_id", "config_key", "symbol"])


def downgrade() -> None:
    with op.batch_alter_table("backtest_runs") as batch:
        batch.drop_constraint("uq_backtest_runs_sweep_member", type_="unique")
        batch.drop_constraint("fk_backtest_runs_sweep_id_backtest_sweeps", type_="foreignkey")
        batch.drop_column("sweep_id")
    op.drop_table("backtest_sweeps")
