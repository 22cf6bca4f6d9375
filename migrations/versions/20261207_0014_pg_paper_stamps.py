"""The paper tables' change counter on PostgreSQL too: raised once per committing transaction.

SQLite raises ``table_versions.version`` of the row ``paper`` with every write to a paper table
(migration 0006). On PostgreSQL an immediate trigger would hold that row's lock from a
transaction's first paper write to its commit: every paper writer would queue behind the others,
and two writing the same paper rows in different orders could deadlock with it. So here the
triggers are deferred constraint triggers: they fire at commit, after every other lock the
transaction takes, and the first of them raises the counter once (a transaction-local setting
remembers it), in the writer's own transaction, so the counter moves exactly when its rows become
visible. The row lock is held only from that moment to the commit's end. TRUNCATE fires no row
trigger: a statement trigger raises the counter for it (TRUNCATE locks the whole table anyway).

A real-time read takes the counter before its rows (``data_access.change_stamps``): a change
committed between the two is read and then seen as a moved counter next time; one committed after
moves the counter. Either way no kept rows outlive a change.

Revision ID: 0014_pg_paper_stamps
Revises: 0013_imports
Create Date: 2026-12-07
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from alembic import op

revision: str = "0014_pg_paper_stamps"
down_revision: str | Sequence[str] | None = "0013_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUP = "paper"
PAPER_TABLES = ("paper_accounts", "paper_trades", "paper_signals")
FUNCTION = "tb_paper_changed"
SETTING = "tradeboard.paper_counted"  # the id of the transaction that raised the counter


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"INSERT INTO table_versions (name, epoch, version) VALUES ('{GROUP}', '{secrets.token_hex(8)}', 0) "
               "ON CONFLICT (name) DO NOTHING")
    op.execute(f"""
        CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('{SETTING}', true) IS DISTINCT FROM txid_current()::text THEN
                PERFORM set_config('{SETTING}', txid_current()::text, true);
                UPDATE table_versions SET version = version + 1 WHERE name = '{GROUP}';
            END IF;
            RETURN NULL;
        END $$""")
    for table in PAPER_TABLES:
        op.execute(f"CREATE CONSTRAINT TRIGGER tv_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")
        op.execute(f"CREATE TRIGGER tv_{table}_truncate AFTER TRUNCATE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in PAPER_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS tv_{table} ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS tv_{table}_truncate ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
    op.execute(f"DELETE FROM table_versions WHERE name = '{GROUP}'")
