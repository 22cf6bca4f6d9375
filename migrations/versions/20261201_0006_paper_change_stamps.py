"""A change counter for the paper tables (``table_versions``), raised by triggers on SQLite.

Every insert, update and delete of ``paper_accounts``, ``paper_trades`` and ``paper_signals`` raises
``table_versions.version`` of the row ``paper`` in the writer's own transaction, so a real-time read
(open positions, shadow positions, exits, the queue) can reuse its last rows while the counter has
not moved (``data_access.change_stamps``). SQLite only: it has one write lock anyway, so the
counter costs writers no concurrency. On PostgreSQL one counter row would serialize every paper
write on its row lock, and two transactions writing the paper tables in different orders could
deadlock on it; there the table stays empty and real-time sections read every time.

SQLite drops a table's triggers with the table: a later migration that rebuilds a paper table
("move and copy" batch mode) must create them again (``create_paper_triggers``);
``tests/data_access/test_change_stamps.py`` checks that the head schema has them all.

Revision ID: 0006_paper_change_stamps
Revises: 0005_realtime_paper_indexes
Create Date: 2026-12-01
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_paper_change_stamps"
down_revision: str | Sequence[str] | None = "0005_realtime_paper_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUP = "paper"
PAPER_TABLES = ("paper_accounts", "paper_trades", "paper_signals")
EVENTS = ("INSERT", "UPDATE", "DELETE")


def trigger_name(table: str, event: str) -> str:
    return f"tv_{table}_{event.lower()}"


def create_paper_triggers() -> None:
    for table in PAPER_TABLES:
        for event in EVENTS:
            op.execute(f"CREATE TRIGGER {trigger_name(table, event)} AFTER {event} ON {table} "
                       f"BEGIN UPDATE table_versions SET version = version + 1 WHERE name = '{GROUP}'; END")


def upgrade() -> None:
    table = op.create_table(
        "table_versions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_table_versions"),
    )
    if op.get_bind().dialect.name != "sqlite":
        return
    op.bulk_insert(table, [{"name": GROUP, "epoch": secrets.token_hex(8), "version": 0}])
    create_paper_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in PAPER_TABLES:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table, event)}")
    op.drop_table("table_versions")
