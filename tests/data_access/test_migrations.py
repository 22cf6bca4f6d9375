"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, insert

import data_access.models as models
from data_access import migrate
from data_access.db import Base, make_engine

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


def schema_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_builds_a_schema_identical_to_the_models(db_url):
    migrate.upgrade(db_url)

    assert schema_differences(db_url) == []
    assert table_names(db_url) == MODEL_TABLES | {"alembic_version"}
    assert migrate.current_revision(db_url) == migrate.head_revision()


def test_upgrade_twice_is_a_no_op(db_url):
    migrate.upgrade(db_url)
    migrate.upgrade(db_url)

    assert migrate.current_revision(db_url) == migrate.head_revision()
    assert schema_differences(db_url) == []


def test_downgrade_to_base_removes_every_table(db_url):
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")

    assert table_names(db_url) & MODEL_TABLES == set()
    assert migrate.current_revision(db_url) is None
    migrate.upgrade(db_url)  # and back up again
    assert schema_differences(db_url) == []


def test_upgrade_works_from_any_working_directory(sqlite_url, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    migrate.upgrade(sqlite_url)

    assert schema_differences(sqlite_url) == []


def test_is_empty_until_a_user_or_account_exists(sqlite_url):
    assert migrate.is_empty(sqlite_url)  # no tables at all yet
    migrate.upgrade(sqlite_url)
    assert migrate.is_empty(sqlite_url)

    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(insert(models.Account),
                     [{"name": "IBKR Main", "broker": "IBKR", "net_contributions": 1.0, "currency": "USD"}])
    engine.dispose()
    assert not migrate.is_empty(sqlite_url)


def _alembic_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(PROJECT_ROOT / "alembic.ini"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def test_alembic_command_line_takes_the_url_from_x_then_database_url(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    from_x = tmp_path / "from_x.db"
    result = _alembic_cli("-x", f"url=sqlite:///{from_x}", "upgrade", "head", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert schema_differences(f"sqlite:///{from_x}") == []

    from_env = tmp_path / "from_env.db"
    result = _alembic_cli("upgrade", "head", env={**env, "DATABASE_URL": f"sqlite:///{from_env}"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert schema_differences(f"sqlite:///{from_env}") == []


def add_account_and_strategy(conn, developer_id: int | None = None) -> None:
    """Account 1 and its strategy 1, as any revision since the first stores them."""
    from sqlalchemy import text

    conn.execute(text("INSERT INTO accounts (id, name, broker, net_contributions, currency) "
                      "VALUES (1, 'Main', 'IBKR', 1000, 'USD')"))
    conn.execute(text("INSERT INTO strategies (id, name, developer_id, account_id, allocation, status) "
                      "VALUES (1, 'S', :developer, 1, 0.5, 'ACTIVE')"), {"developer": developer_id})


def test_ingest_keys_migration_keeps_tokens_and_gives_every_stored_fill_a_key(db_url):
    """0007 rebuilds users (its role CHECK) and the fill and paper tables on SQLite: a user's tokens,
    strategies' developers and every fill must survive it, and the new role must be accepted."""
    from sqlalchemy import text

    migrate.upgrade(db_url, "0006_paper_change_stamps")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, role, is_active) "
                              "VALUES (1, 'dev', 'Dev', '!', 'developer', true)"))
            conn.execute(text("INSERT INTO api_tokens (id, user_id, name, token_sha256, revoked) "
                              "VALUES (1, 1, 'sender', 'abc', false)"))
            add_account_and_strategy(conn, developer_id=1)
            conn.execute(text("INSERT INTO signals (id, signal_id, strategy_id, symbol, side, quantity, received_at, "
                              "status) VALUES (7, 'sig_7', 1, 'SPY', 'BUY', 3, '2026-01-02 15:00:00', 'FILLED')"))
            conn.execute(text("INSERT INTO executions (id, signal_id, filled_at, price, quantity, commission) "
                              "VALUES (9, 7, '2026-01-02 15:00:01', 100, 3, 0)"))
        migrate.upgrade(db_url)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT user_id FROM api_tokens")).scalars().all() == [1]
            assert conn.execute(text("SELECT developer_id FROM strategies")).scalars().all() == [1]
            assert conn.execute(text("SELECT execution_id FROM executions")).scalars().all() == ["exe_9"]
            conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, role, is_active) "
                              "VALUES (2, 'feed', 'Feed', '!', 'ingest', true)"))
        with pytest.raises(Exception, match="(?i)constraint"), engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, username, display_name, password_hash, role, is_active) "
                              "VALUES (3, 'x', 'X', '!', 'emperor', true)"))
        with pytest.raises(Exception, match="(?i)unique"), engine.begin() as conn:
            conn.execute(text("INSERT INTO executions (id, signal_id, execution_id, filled_at, price, quantity, "
                              "commission) VALUES (10, 7, 'exe_9', '2026-01-02 15:00:02', 100, 1, 0)"))
    finally:
        engine.dispose()


def test_a_database_upgraded_across_the_ingest_keys_has_its_positions_derived_from_its_fills(db_url):
    """Before 0007 positions and closed trades were written as they were; after it they are the FIFO of the fills."""
    from sqlalchemy import text

    migrate.upgrade(db_url, "0006_paper_change_stamps")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            add_account_and_strategy(conn)
            for sid, side, qty, price, at in ((1, "BUY", 10, 100.0, "10:00"), (2, "SELL", 4, 110.0, "11:00")):
                conn.execute(text("INSERT INTO signals (id, signal_id, strategy_id, symbol, side, quantity, "
                                  "received_at, status) VALUES (:id, :ext, 1, 'SPY', :side, :qty, :at, 'FILLED')"),
                             {"id": sid, "ext": f"s{sid}", "side": side, "qty": qty, "at": f"2026-01-02 {at}:00"})
                conn.execute(text("INSERT INTO executions (id, signal_id, filled_at, price, quantity, commission) "
                                  "VALUES (:id, :id, :at, :price, :qty, 0)"),
                             {"id": sid, "at": f"2026-01-02 {at}:01.000000", "price": price, "qty": qty})
            conn.execute(text("INSERT INTO positions (id, strategy_id, account_id, symbol, quantity, entry_price, "
                              "opened_at) VALUES (1, 1, 1, 'SPY', 99, 1.0, '2026-01-01 00:00:00')"))
        migrate.upgrade(db_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT quantity, entry_price FROM positions")).all() == [(6.0, 100.0)]
            assert conn.execute(text("SELECT quantity, realized_pnl FROM closed_trades")).all() == [(4.0, 40.0)]
    finally:
        engine.dispose()


def test_a_derivation_that_did_not_finish_is_done_by_the_next_upgrade(db_url):
    from sqlalchemy import text

    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:  # as if the one-time derivation had been killed before its commit
            conn.execute(text("DELETE FROM table_versions WHERE name = :name"), {"name": migrate.DERIVED_MARKER})
            add_account_and_strategy(conn)
            conn.execute(text("INSERT INTO signals (id, signal_id, strategy_id, symbol, side, quantity, received_at, "
                              "status) VALUES (1, 's1', 1, 'SPY', 'BUY', 5, '2026-01-02 10:00:00', 'FILLED')"))
            conn.execute(text("INSERT INTO executions (id, execution_id, signal_id, filled_at, price, quantity, "
                              "commission) VALUES (1, 'e1', 1, '2026-01-02 10:00:01.000000', 100, 5, 0)"))
        migrate.upgrade(db_url)
        migrate.upgrade(db_url)  # once only
        with engine.connect() as conn:
            assert conn.execute(text("SELECT quantity FROM positions")).scalars().all() == [5.0]
            assert conn.execute(text("SELECT count(*) FROM table_versions WHERE name = :name"),
                                {"name": migrate.DERIVED_MARKER}).scalar() == 1
    finally:
        engine.dispose()
