"""Where a signal's ``filled_at`` came from: ``filled_at_from_fills`` is true when tradeboard took it
from the signal's fills because its sender left it out. Such a time follows the earliest fill as
fills arrive late or are corrected (and after an import's fills are undone); a time the sender sent
is never touched. Signals stored before this revision count as sent.

Revision ID: 0015_signal_fill_time_source
Revises: 0014_pg_paper_stamps
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_signal_fill_time_source"
down_revision: str | Sequence[str] | None = "0014_pg_paper_stamps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a constant default: no table rewrite on either database, whatever the book's size
    op.add_column("signals", sa.Column("filled_at_from_fills", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("signals") as batch:
        batch.drop_column("filled_at_from_fills")
