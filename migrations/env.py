"""Alembic environment for tradeboard: our models' metadata, URL from -x / env / settings.

URL resolution (first that is set wins):
  1. a connection handed over by ``data_access.migrate`` (``config.attributes["connection"]``)
  2. ``alembic -x url=...``
  3. ``config.attributes["url"]`` (programmatic)
  4. the ``DATABASE_URL`` environment variable
  5. ``app.config.Settings().DATABASE_URL``

SQLite runs in batch mode ("move and copy"), since it cannot ALTER most things in place.
"""

from __future__ import annotations

import logging
import os
import sys
from logging.config import fileConfig
from pathlib import Path

from alembic import context

# Make the project importable when alembic is run from any directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import data_access.models  # noqa: E402,F401  (registers every table on Base.metadata)
from data_access.db import Base, make_engine  # noqa: E402

config = context.config

if config.config_file_name is not None and not config.attributes.get("skip_logging_config"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
log = logging.getLogger("alembic.env")


def database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    if not url:
        url = os.environ.get("DATABASE_URL")
    if not url:
        from app.config import Settings

        url = Settings().DATABASE_URL
    return url


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    url = database_url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    from data_access.migrate import migration_connection

    engine = make_engine(database_url())
    try:
        with migration_connection(engine) as connection:
            _run_with(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
