"""Keys for the ingest API and the ``ingest`` role.

- ``executions.execution_id``: the broker's id of a fill, NOT NULL and unique (rows already stored
  get ``exe_<row id>``);
- ``paper_trades.external_id`` and ``paper_signals.external_id``: the sender's id, unique, null for
  rows written by the app itself (stored rows get ``pt_<row id>`` / ``ps_<row id>``);
- the users' ``role`` CHECK constraint admits ``ingest``.

SQLite cannot add a unique constraint or change a CHECK constraint in place: those tables are
rebuilt ("move and copy"). Dropping ``users`` with foreign keys on would cascade to its tokens, so
``data_access.migrate`` and ``migrations/env.py`` run migrations on SQLite with foreign keys off;
this script refuses to rebuild with them on. Rebuilding a paper table drops its change-counter
triggers (migration 0006): they are created again.

Revision ID: 0007_ingest_keys
Revises: 0006_paper_change_stamps
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_ingest_keys"
down_revision: str | Sequence[str] | None = "0006_paper_change_stamps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = ("admin", "analyst", "client", "developer")
NEW_ROLES = (*OLD_ROLES, "ingest")
KEYS = (("executions", "execution_id", "exe_"), ("paper_trades", "external_id", "pt_"),
        ("paper_signals", "external_id", "ps_"))
PAPER_TRIGGER_TABLES = ("paper_trades", "paper_signals")
EVENTS = ("INSERT", "UPDATE", "DELETE")


def _role_enum(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="role", native_enum=False, create_constraint=True, length=16)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _refuse_with_foreign_keys_on() -> None:
    if op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("this migration rebuilds SQLite tables and must run with foreign keys off: "
                           "use `tradeboard migrate` or `alembic upgrade head` (both turn them off)")


def _paper_triggers(create: bool) -> None:
    for table in PAPER_TRIGGER_TABLES:
        for event in EVENTS:
            name = f"tv_{table}_{event.lower()}"
            if create:
                op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                           "BEGIN UPDATE table_versions SET version = version + 1 WHERE name = 'paper'; END")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _set_role_check(values: tuple[str, ...], old: tuple[str, ...]) -> None:
    if _sqlite():
        with op.batch_alter_table("users", recreate="always") as batch:
            batch.alter_column("role", existing_type=_role_enum(old), type_=_role_enum(values),
                               existing_nullable=False)
    else:
        op.drop_constraint("role", "users", type_="check")
        op.create_check_constraint("role", "users", sa.column("role").in_(values))


def upgrade() -> None:
    if _sqlite():
        _refuse_with_foreign_keys_on()
    for table, column, prefix in KEYS:
        op.add_column(table, sa.Column(column, sa.String(length=64), nullable=True))
        op.execute(f"UPDATE {table} SET {column} = '{prefix}' || id")
    if _sqlite():
        _paper_triggers(create=False)
    for table, column, _prefix in KEYS:
        with op.batch_alter_table(table) as batch:
            if table == "executions":
                batch.alter_column(column, existing_type=sa.String(length=64), nullable=False)
            batch.create_unique_constraint(f"uq_{table}_{column}", [column])
    if _sqlite():
        _paper_triggers(create=True)
    _set_role_check(NEW_ROLES, OLD_ROLES)


def downgrade() -> None:
    if _sqlite():
        _refuse_with_foreign_keys_on()
    op.execute("DELETE FROM users WHERE role = 'ingest'")
    _set_role_check(OLD_ROLES, NEW_ROLES)
    if _sqlite():
        _paper_triggers(create=False)
    for table, column, _prefix in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_{column}", type_="unique")
            batch.drop_column(column)
    if _sqlite():
        _paper_triggers(create=True)
