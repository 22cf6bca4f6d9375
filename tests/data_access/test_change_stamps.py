"""Real-time paper sections reuse their rows while the paper tables are unchanged, and show any
committed change at once: an insert, update or delete by any writer (here a plain DB-API
connection, as another program would write), on SQLite and PostgreSQL, and a missed entry leaving
the shadow window with time alone. On PostgreSQL the counter moves once per transaction, at its
commit, and holds up no other paper writer before then. Without the migrations' counter every read
goes to the database."""

from __future__ import annotations

import contextvars
import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import text

from data_access import migrate
from data_access import paper_trading as pt
from data_access.paper_trading import realtime as pt_realtime
from data_access.change_stamps import one_stamp_per_build, paper_reads, paper_stamp
from data_access.fresh_rounds import rounds
from data_access.db import configure_database
from data_access.document import SectionReader
from data_access.models import Base
from tests.conftest import migrated
from tests.dashboards.test_client_dashboard import statements_during

NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
PAPER_TABLES = ("paper_accounts", "paper_trades", "paper_signals")


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tradeboard.db'}"
    return request.getfixturevalue("postgres_url")


def migrated_book(url: str):
    """The migrated schema with account A, an open AAPL trade, a missed TSLA entry (a day old) and a
    queued exit of the AAPL trade; the engine configured."""
    if url.startswith("sqlite"):
        migrated(url)
    else:
        migrate.upgrade(url)
    engine = configure_database(url)
    paper_reads.clear()
    with engine.begin() as c:
        c.execute(text("INSERT INTO paper_accounts (id, name, starting_cash, cash, created_at) "
                       "VALUES (1, 'A', 100000, 100000, :t)"), {"t": NOW})
        c.execute(text("INSERT INTO paper_trades (id, paper_account_id, source, symbol, side, quantity, entry_price, "
                       "opened_at, status) VALUES (1, 1, 'src1', 'AAPL', 'long', 10, 100, :t, 'OPEN')"),
                  {"t": NOW - dt.timedelta(hours=2)})
        signal = ("INSERT INTO paper_signals (paper_account_id, source, symbol, side, action, quantity, price, "
                  "created_at, status, reason, paper_trade_id) VALUES (1, :src, :sym, 'long', :action, 10, :price, "
                  ":t, :status, :reason, :trade)")
        c.execute(text(signal), {"src": "src1", "sym": "TSLA", "action": "ENTRY", "price": 200, "status": "REJECTED",
                                 "reason": "risk", "trade": None, "t": NOW - dt.timedelta(days=1)})
        c.execute(text(signal), {"src": "src1", "sym": "AAPL", "action": "EXIT", "price": 101, "status": "QUEUED",
                                 "reason": None, "trade": 1, "t": NOW - dt.timedelta(minutes=1)})
        if engine.dialect.name == "postgresql":  # past the ids given above
            for table in ("paper_accounts", "paper_trades"):
                c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 100)"))
    return engine


def build(engine):
    """The four reusable real-time sections as one document build reads them, and the statements run."""
    def sections():
        with SectionReader():
            return {"open": pt.open_positions(20, ("bars",)), "shadow": pt.shadow_positions(20, ("bars",)),
                    "exits": pt.exit_signals(20, ("bars",)), "queued": pt.queued_signals(20)}
    return statements_during(engine, sections)


class Writer:
    """Another program's own DB-API connection (sqlite3 or psycopg2); statements take ``?`` marks."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        else:
            self.connection = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))

    def execute(self, statement: str, parameters: tuple = ()) -> None:
        cursor = self.connection.cursor()
        cursor.execute(statement if self.sqlite else statement.replace("?", "%s"), parameters)
        cursor.close()

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


def writer(url: str) -> Writer:
    return Writer(url)


def paper_triggers(engine) -> set[str]:
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            return {row[0] for row in c.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))}
        return {f"{row[0]}:{row[1]}" for row in c.execute(text(
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal OR tgconstraint <> 0"))
            if row[0].startswith("tv_")}


def test_the_head_schema_raises_the_paper_counter_on_every_write_to_a_paper_table_only(db_url):
    engine = migrated_book(db_url)
    if engine.dialect.name == "sqlite":
        expected = {f"tv_{t}_{e}" for t in PAPER_TABLES for e in ("insert", "update", "delete")}
    else:  # a deferred row trigger (insert, update, delete) and a truncate trigger per table
        expected = {f"tv_{t}{suffix}:{t}" for t in PAPER_TABLES for suffix in ("", "_truncate")}
    assert paper_triggers(engine) == expected
    db = writer(db_url)
    before = paper_stamp()
    for statement in ("UPDATE paper_accounts SET cash = cash - 1", "UPDATE paper_trades SET quantity = 11",
                      "DELETE FROM paper_signals WHERE status = 'REJECTED'"):
        db.execute(statement)
        db.commit()
        after = paper_stamp()
        assert after[0] == before[0] and after[1] > before[1], statement
        before = after
    db.execute("INSERT INTO users (username, display_name, role, password_hash, is_active, account_scope) "
               "VALUES ('x', 'x', 'analyst', 'h', TRUE, '')")
    db.commit()
    assert paper_stamp() == before  # not a paper table
    db.execute("UPDATE paper_trades SET quantity = 12")
    db.rollback()
    assert paper_stamp() == before  # a rolled-back write changed nothing


def test_an_unchanged_book_is_reused_and_every_committed_change_shows_in_the_next_build(db_url):
    engine = migrated_book(db_url)
    first, statements = build(engine)
    assert first["open"]["count"] == 1 and first["shadow"]["count"] == 1 and first["exits"]["count"] == 1
    assert first["queued"]["count"] == 0

    again, statements = build(engine)
    assert [s for s in statements if "paper_" in s] == []  # no statement on a paper table ...
    assert len([s for s in statements if "table_versions" in s]) == 1  # ... only the counter, once
    assert again["open"]["positions"] == first["open"]["positions"]
    assert again["exits"]["signals"][0]["age_seconds"] >= first["exits"]["signals"][0]["age_seconds"]  # ages move

    db = writer(db_url)  # another program writes: a new trade, a queued entry, the exit executed
    db.execute("INSERT INTO paper_trades (paper_account_id, source, symbol, side, quantity, entry_price, opened_at, "
               "status) VALUES (1, 'src2', 'MSFT', 'short', 5, 120, ?, 'OPEN')", (iso(NOW),))
    db.execute("INSERT INTO paper_signals (paper_account_id, source, symbol, side, action, quantity, price, created_at,"
               " status) VALUES (1, 'src2', 'NVDA', 'long', 'ENTRY', 3, 500, ?, 'QUEUED')", (iso(NOW),))
    db.execute("UPDATE paper_signals SET status = 'EXECUTED' WHERE action = 'EXIT'")
    db.commit()
    changed, _ = build(engine)
    assert [p["symbol"] for p in changed["open"]["positions"]] == ["MSFT", "AAPL"]
    assert changed["queued"]["count"] == 1 and changed["queued"]["signals"][0]["symbol"] == "NVDA"
    assert changed["exits"]["count"] == 0

    db.execute("DELETE FROM paper_trades WHERE symbol = 'MSFT'")
    db.commit()
    assert [p["symbol"] for p in build(engine)[0]["open"]["positions"]] == ["AAPL"]


def test_work_left_running_after_a_build_reads_the_counter_anew(db_url):
    """A stale section is refreshed in the background in a copy of the build's context, after the build."""
    migrated_book(db_url)
    with one_stamp_per_build():
        during = paper_stamp()
        db = writer(db_url)
        db.execute("UPDATE paper_accounts SET cash = cash - 1")
        db.commit()
        assert paper_stamp() == during  # one read per build
        refresh_context = contextvars.copy_context()
    later = refresh_context.run(paper_stamp)
    assert later[1] > during[1]
    assert [p["symbol"] for p in refresh_context.run(pt.open_positions, 20, ("bars",))["positions"]] == ["AAPL"]
    db.execute("INSERT INTO paper_trades (paper_account_id, source, symbol, side, quantity, entry_price, opened_at, "
               "status) VALUES (1, 'src2', 'MSFT', 'short', 5, 120, ?, 'OPEN')", (iso(NOW),))
    db.commit()
    assert [p["symbol"] for p in refresh_context.run(pt.open_positions, 20, ("bars",))["positions"]] == ["MSFT", "AAPL"]


def test_a_missed_entry_leaves_the_shadow_window_with_time_alone(db_url, monkeypatch):
    engine = migrated_book(db_url)
    assert build(engine)[0]["shadow"]["count"] == 1
    assert build(engine)[0]["shadow"]["count"] == 1  # reused: nothing changed
    later = NOW + dt.timedelta(days=pt.SHADOW_DAYS, hours=1)  # the TSLA entry (a day old) is now outside
    monkeypatch.setattr(pt_realtime, "utc_now_naive", lambda: later)
    stamp = paper_stamp()
    shadow = build(engine)[0]["shadow"]
    assert paper_stamp() == stamp  # no write, yet the section read again
    assert shadow["count"] == 0 and shadow["positions"] == [] and shadow["unrealized_pnl"] == 0


def test_a_database_rebuilt_at_the_same_path_never_gets_the_old_ones_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'book.db'}"
    engine = migrated_book(url)
    assert [p["symbol"] for p in build(engine)[0]["open"]["positions"]] == ["AAPL"]
    old_stamp = paper_stamp()
    engine.dispose()
    Path(tmp_path / "book.db").unlink()
    engine = configure_database(url)
    migrate.upgrade(url)
    db = writer(url)
    db.execute("INSERT INTO paper_accounts (id, name, starting_cash, cash) VALUES (1, 'A', 1, 1)")
    db.execute("INSERT INTO paper_trades (paper_account_id, source, symbol, side, quantity, entry_price, opened_at, "
               "status) VALUES (1, 's', 'AMZN', 'long', 1, 1, ?, 'OPEN')", (iso(NOW),))
    db.execute("UPDATE paper_accounts SET cash = 2")
    db.execute("INSERT INTO paper_signals (paper_account_id, source, symbol, side, action, quantity, price, created_at,"
               " status) VALUES (1, 's', 'AMZN', 'long', 'ENTRY', 1, 1, ?, 'EXECUTED')", (iso(NOW),))
    db.commit()
    assert paper_stamp()[1] == old_stamp[1]  # the same count of writes as the first database had ...
    assert [p["symbol"] for p in build(engine)[0]["open"]["positions"]] == ["AMZN"]  # ... not its rows


def test_a_request_that_saw_a_newer_counter_never_gets_a_round_computed_under_an_older_one(db_url):
    """A real-time round computes in its leader's build, with the counter its leader read. A request
    that arrives after a commit (it reads the newer counter) must not join a round of an earlier
    request, or it would be handed rows kept under the older counter, without the commit."""
    migrated_book(db_url)
    release = threading.Event()
    blocking = [True]

    def open_symbols(limit: int) -> list[str]:  # a real-time section reading through the kept rows
        if blocking[0]:
            blocking[0] = False
            release.wait(10)
        rows = paper_reads.get(("open-symbols", limit), lambda: [r[0] for r in writer_rows(db_url)])
        return sorted(rows)

    def request(out: dict, name: str) -> None:
        with SectionReader() as reader:
            out[name] = reader.read("open", open_symbols, 20)

    blocking[0] = False
    out: dict[str, list[str]] = {}
    request(out, "first")  # rows kept under the counter as it is
    assert out["first"] == ["AAPL"]
    blocking[0] = True
    slow = threading.Thread(target=request, args=(out, "slow"))  # its round runs, stuck, until released
    slow.start()
    wait_until(lambda: any(key[0] is open_symbols for key in rounds._running))
    early = threading.Thread(target=request, args=(out, "early"))  # waits for the stuck round to finish
    early.start()
    wait_until(lambda: any(key[0] is open_symbols for key in rounds._waiting))
    db = writer(db_url)
    db.execute("INSERT INTO paper_trades (paper_account_id, source, symbol, side, quantity, entry_price, opened_at, "
               "status) VALUES (1, 'src2', 'MSFT', 'short', 5, 120, ?, 'OPEN')", (iso(NOW),))
    db.commit()
    late = threading.Thread(target=request, args=(out, "late"))  # arrives after the commit
    late.start()
    late.join(5)
    release.set()
    for t in (slow, early, late):
        t.join(30)
    assert out["late"] == ["AAPL", "MSFT"]  # (the others may show it too: no answer is older than its request)


def writer_rows(url: str) -> list[tuple]:
    db = writer(url)
    cursor = db.connection.cursor()
    cursor.execute("SELECT symbol FROM paper_trades WHERE status = 'OPEN'")
    rows = cursor.fetchall()
    db.connection.close()
    return rows


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_postgres_raises_the_counter_once_per_transaction_at_its_commit(postgres_url):
    migrated_book(postgres_url)
    db, reader = writer(postgres_url), writer(postgres_url)
    before = paper_stamp()
    db.execute("INSERT INTO paper_trades (paper_account_id, source, symbol, side, quantity, entry_price, opened_at, "
               "status) VALUES (1, 's', 'MSFT', 'short', 5, 120, now(), 'OPEN')")
    db.execute("UPDATE paper_accounts SET cash = cash - 600")
    db.execute("UPDATE paper_signals SET status = 'EXECUTED'")
    assert paper_stamp() == before  # written, not committed: nothing shows, the counter has not moved
    # another paper writer is not held up by the open transaction (an immediate trigger would queue it
    # behind the counter's row lock until that commit)
    reader.execute("SET lock_timeout = '2s'")
    reader.execute("INSERT INTO paper_signals (paper_account_id, source, symbol, side, action, quantity, price, "
                   "created_at, status) VALUES (1, 'x', 'NVDA', 'long', 'ENTRY', 1, 1, now(), 'QUEUED')")
    reader.commit()
    assert paper_stamp()[1] == before[1] + 1
    db.commit()
    assert paper_stamp()[1] == before[1] + 2  # three writes to three tables: one raise
    db.execute("TRUNCATE paper_signals")
    db.commit()
    assert paper_stamp()[1] == before[1] + 3


def test_concurrent_paper_writers_all_commit_and_each_moves_the_counter(postgres_url):
    migrated_book(postgres_url)
    before = paper_stamp()
    errors = []

    def write(n: int) -> None:
        try:
            db = writer(postgres_url)
            for i in range(20):
                db.execute("UPDATE paper_accounts SET cash = cash + 1")
                db.execute("INSERT INTO paper_signals (paper_account_id, source, symbol, side, action, quantity, "
                           "price, created_at, status) VALUES (1, ?, 'AMD', 'long', 'ENTRY', 1, 1, now(), 'QUEUED')",
                           (f"w{n}-{i}",))
                db.commit()
        except Exception as exc:  # a deadlock or a lock timeout would land here
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert paper_stamp()[1] == before[1] + 80


def test_without_the_migrations_every_build_reads_the_paper_tables(db_url):
    engine = configure_database(db_url)
    Base.metadata.create_all(engine)
    assert paper_stamp() is None
    with engine.begin() as c:
        c.execute(text("INSERT INTO paper_accounts (id, name, starting_cash, cash, created_at) "
                       "VALUES (1, 'A', 1, 1, :t)"), {"t": NOW})
    _, first = build(engine)
    _, second = build(engine)
    assert len([s for s in second if "paper_" in s]) == len([s for s in first if "paper_" in s]) >= 4
    with engine.begin() as c:
        c.execute(text("INSERT INTO paper_trades (paper_account_id, source, symbol, side, quantity, entry_price, "
                       "opened_at, status) VALUES (1, 's', 'AMZN', 'long', 1, 1, :t, 'OPEN')"), {"t": NOW})
    assert build(engine)[0]["open"]["count"] == 1


@pytest.fixture(autouse=True)
def _forget_kept_rows():
    yield
    paper_reads.clear()
