"""POST /api/v1/ingest/<entity> through the Flask test client on an empty book (SQLite and PostgreSQL): a book written
in CSV, NDJSON and JSON reads back through the dashboards as an independent computation says;
batches are idempotent and all or nothing; roles; content types and sizes."""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import io
import random
import threading
import time

import numpy as np
import orjson
import pytest
from sqlalchemy import func, select

from app.auth import create_token, create_user
from data_access.models import Account, ClosedTrade, Execution, PaperSignal, PaperTrade, Position, Signal
from tests.conftest import build_app

NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds") + "Z"


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    return out.getvalue().encode()


def as_ndjson(rows: list[dict]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in rows) + b"\n"


BODIES = {"text/csv": as_csv, "application/x-ndjson": as_ndjson, "application/json": orjson.dumps}


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, app_settings):
    """An empty book on SQLite and on PostgreSQL, with the TEST_USERS."""
    url = app_settings.DATABASE_URL if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    dash_app = build_app(dataclasses.replace(app_settings, DATABASE_URL=url))
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


@pytest.fixture
def tokens(app):
    """Bearer tokens: an ingest service, a developer owning nothing yet, and the admin."""
    with app.server.extensions["tradeboard"].session() as session:
        create_user(session, "feed", "ingest", password="feed-password-123")
        create_user(session, "dev", "developer", password="dev-password-123")
    with app.server.extensions["tradeboard"].session() as session:
        return {name: create_token(session, name, "test") for name in ("feed", "dev", "admin")}


def post(client, token: str, entity: str, rows, content_type: str = "application/json", query: str = ""):
    body = rows if isinstance(rows, bytes) else BODIES[content_type](rows)
    return client.post(f"/api/v1/ingest/{entity}{query}", data=body, content_type=content_type,
                       headers={"Authorization": f"Bearer {token}"})


def random_book(seed: int, strategies=("Mean Rev", "Breakout"), developer: str | None = "dev"):
    rng = random.Random(seed)
    accounts = [{"account_name": "Main", "broker": "IBKR", "net_contributions": 1_000_000, "currency": "USD"}]
    strats = [{"strategy_name": s, "account_name": "Main", "allocation": 0.4, "status": "ACTIVE", "developer": developer}
              for s in strategies]
    signals, executions = [], []
    for n in range(120):
        strategy = rng.choice(strategies)
        received = NOW - dt.timedelta(days=4) + dt.timedelta(minutes=45 * n + rng.randint(0, 30))
        status = rng.choices(["FILLED", "REJECTED", "CANCELLED", "PENDING"], [7, 2, 1, 1])[0]
        quantity = rng.choice([5, 10, 20, 35])
        lag = round(rng.uniform(0.05, 20.0), 3)
        filled_at = received + dt.timedelta(seconds=lag) if status == "FILLED" else None
        signal = {"signal_id": f"sig_{seed}_{n}", "strategy_name": strategy, "symbol": rng.choice(["AAPL", "MSFT"]),
                  "side": rng.choice(["BUY", "SELL"]), "quantity": quantity, "received_time": iso(received),
                  "execution_status": status, "reject_reason": "risk limit exceeded" if status == "REJECTED" else None,
                  "filled_at": iso(filled_at) if filled_at else None}
        signals.append(signal)
        if status == "FILLED":
            parts = [quantity] if rng.random() < 0.7 else [quantity - 2, 2]
            for k, part in enumerate(parts):
                executions.append({"execution_id": f"exe_{seed}_{n}_{k}", "signal_id": signal["signal_id"],
                                   "filled_at": iso(filled_at + dt.timedelta(seconds=k)),
                                   "avg_fill_price": round(rng.uniform(90, 110), 2), "filled_quantity": part,
                                   "commission": round(0.01 * part, 4)})
    return {"accounts": accounts, "strategies": strats, "signals": signals, "executions": executions}


def expected_fifo(book) -> tuple[dict, dict]:
    """Realized PnL per strategy and open quantity per (strategy, symbol): FIFO, one unit lot at a time."""
    side = {s["signal_id"]: (s["strategy_name"], s["symbol"], 1 if s["side"] == "BUY" else -1) for s in book["signals"]}
    lots: dict = collections.defaultdict(collections.deque)  # (strategy, symbol) -> deque of [sign, price, fee/unit]
    realized: dict = collections.defaultdict(float)
    for e in sorted(book["executions"], key=lambda e: (e["filled_at"], e["execution_id"])):
        strategy, symbol, sign = side[e["signal_id"]]
        fee = e["commission"] / e["filled_quantity"]
        queue = lots[(strategy, symbol)]
        for _unit in range(int(e["filled_quantity"])):
            if queue and queue[0][0] != sign:
                open_sign, entry, entry_fee = queue.popleft()
                realized[strategy] += open_sign * (e["avg_fill_price"] - entry) - entry_fee - fee
            else:
                queue.append((sign, e["avg_fill_price"], fee))
    open_qty = {key: sum(lot[0] for lot in queue) for key, queue in lots.items() if queue}
    return realized, open_qty


def send_book(client, token, book, content_type="application/json"):
    for entity in ("accounts", "strategies", "signals", "executions"):
        response = post(client, token, entity, book[entity], content_type)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["inserted"] == len(book[entity])


@pytest.mark.parametrize("content_type", list(BODIES))
def test_a_book_ingested_reads_back_through_the_dashboards_as_computed_independently(app, tokens, content_type):
    client = app.server.test_client()
    book = random_book(7)
    send_book(client, tokens["feed"], book, content_type)
    realized, open_qty = expected_fifo(book)

    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    for strategy in ("Mean Rev", "Breakout"):
        doc = client.get(f"/api/v1/dashboards/signal-sender?strategy_name={strategy}&time_range=7d",
                         headers=admin).get_json()
        mine = [s for s in book["signals"] if s["strategy_name"] == strategy]
        filled = [s for s in mine if s["execution_status"] == "FILLED"]
        lags = [(dt.datetime.fromisoformat(s["filled_at"][:-1]) - dt.datetime.fromisoformat(s["received_time"][:-1]))
                .total_seconds() for s in filled]
        performance = doc["performance"]
        assert performance["total_signals_sent"] == len(mine)
        assert performance["fill_rate"] == pytest.approx(len(filled) / len(mine) * 100)
        assert performance["realized_pnl"] == pytest.approx(realized[strategy], abs=1e-6)
        latency = doc["lag_metrics"]  # percentiles from the daily lag sketches: within 1 % (docs/metrics.md)
        assert latency["median_signal_to_fill_seconds"] == pytest.approx(np.percentile(lags, 50), rel=0.01)
        assert latency["p95_signal_to_fill_seconds"] == pytest.approx(np.percentile(lags, 95), rel=0.01)
        assert latency["p99_signal_to_fill_seconds"] == pytest.approx(np.percentile(lags, 99), rel=0.01)
        positions = {p["symbol"]: p["quantity"] for p in doc["current_positions"]}
        assert positions == {sym: q for (s, sym), q in open_qty.items() if s == strategy}

    fund = client.get("/api/v1/dashboards/client?time_range=7d", headers=admin).get_json()
    assert fund["overview"]["open_positions"] == len(open_qty)


def test_the_same_batch_twice_changes_nothing_and_a_later_row_updates_its_record(app, tokens):
    client = app.server.test_client()
    book = random_book(11)
    send_book(client, tokens["feed"], book)
    again = post(client, tokens["feed"], "signals", book["signals"]).get_json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, len(book["signals"]))

    pending = next(s for s in book["signals"] if s["execution_status"] == "PENDING")
    later = {**pending, "execution_status": "CANCELLED"}
    result = post(client, tokens["feed"], "signals", [later], "text/csv").get_json()
    assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 1, 0)
    with app.server.extensions["tradeboard"].session() as session:
        status = session.scalar(select(Signal.status).where(Signal.signal_id == pending["signal_id"]))
        assert status.value == "CANCELLED"
        assert session.scalar(select(func.count()).select_from(Signal)) == len(book["signals"])


def test_the_same_rows_split_differently_across_batches_end_in_the_same_book(app, tokens):
    client = app.server.test_client()
    book = random_book(13)
    for entity in ("accounts", "strategies"):
        post(client, tokens["feed"], entity, book[entity])
    for entity in ("signals", "executions"):
        rows = book[entity]
        for lo, hi in ((0, 50), (30, 90), (0, len(rows))):  # overlapping slices
            assert post(client, tokens["feed"], entity, rows[lo:hi], "application/x-ndjson").status_code == 200
    realized, open_qty = expected_fifo(book)
    with app.server.extensions["tradeboard"].session() as session:
        assert session.scalar(select(func.count()).select_from(Execution)) == len(book["executions"])
        total = session.scalar(select(func.sum(ClosedTrade.realized_pnl)))
        assert total == pytest.approx(sum(realized.values()), abs=1e-6)
        stored = {(p.symbol, p.quantity) for p in session.scalars(select(Position))}
        assert sorted(q for _s, q in stored) == sorted(open_qty.values())


def test_a_batch_with_one_bad_row_writes_nothing_and_lists_every_problem(app, tokens):
    client = app.server.test_client()
    book = random_book(17)
    for entity in ("accounts", "strategies"):
        post(client, tokens["feed"], entity, book[entity])
    rows = [dict(r) for r in book["signals"][:10]]
    rows[3]["side"] = "BYU"
    rows[6]["quantity"] = -5
    rows[6]["received_time"] = "yesterday"
    rows[8]["strategy_name"] = "Nobody's"
    response = post(client, tokens["feed"], "signals", rows, "text/csv")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_rows"
    found = {(e["line"], e["field"]) for e in error["details"]["errors"]}
    assert found == {(5, "side"), (8, "quantity"), (8, "received_time"), (10, "strategy_name")}  # header is line 1
    unknown = next(e for e in error["details"]["errors"] if e["field"] == "strategy_name")
    assert "Nobody's" in unknown["message"] and "strategies" in unknown["valid"]
    with app.server.extensions["tradeboard"].session() as session:
        assert session.scalar(select(func.count()).select_from(Signal)) == 0


def test_roles_who_may_write_what(app, tokens, users):
    client = app.server.test_client()
    book = random_book(19)
    assert post(client, tokens["dev"], "accounts", book["accounts"]).status_code == 403
    for entity in ("accounts", "strategies"):
        assert post(client, tokens["admin"], entity, book[entity]).status_code == 200
    with app.server.extensions["tradeboard"].session() as session:
        other = create_user(session, "other", "developer", password="other-password-123")[0].username
    with app.server.extensions["tradeboard"].session() as session:
        other_token = create_token(session, other, "test")
    theirs = post(client, other_token, "signals", book["signals"][:3])
    assert theirs.status_code == 403 and theirs.get_json()["error"]["details"]["rows_not_yours"] == [1, 2, 3]
    assert "Mean Rev" not in theirs.get_data(as_text=True) and "Breakout" not in theirs.get_data(as_text=True)
    assert post(client, tokens["dev"], "signals", book["signals"][:3]).status_code == 200
    fills = [e for e in book["executions"] if e["signal_id"] in {s["signal_id"] for s in book["signals"][:3]}]
    if fills:
        on_theirs = post(client, other_token, "executions", fills)
        assert on_theirs.status_code == 403 and on_theirs.get_json()["error"]["details"]["rows_not_yours"]
    feed = {"Authorization": f"Bearer {tokens['feed']}"}
    assert client.get("/api/v1/dashboards/client", headers=feed).status_code == 403  # writes, reads nothing


def test_content_types_sizes_and_unknown_entities(app, tokens, monkeypatch):
    client = app.server.test_client()
    assert post(client, tokens["feed"], "accounts", b"<xml/>", "application/xml").status_code == 415
    unknown = post(client, tokens["feed"], "trades", [])
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_found"
    app_state = app.server.extensions["tradeboard"]
    monkeypatch.setattr(app_state, "settings", dataclasses.replace(app_state.settings, MAX_INGEST_BYTES=100))
    too_big = post(client, tokens["feed"], "accounts", [{"account_name": "x" * 200}])
    assert too_big.status_code == 413 and too_big.get_json()["error"]["details"]["max_bytes"] == 100
    monkeypatch.undo()
    not_array = post(client, tokens["feed"], "accounts", b'{"account_name": "x"}', "application/json")
    assert not_array.status_code == 400 and not_array.get_json()["error"]["code"] == "unreadable_body"


def test_eight_clients_sending_overlapping_rows_end_with_one_record_per_key(app, tokens):
    book = random_book(23)
    client = app.server.test_client()
    for entity in ("accounts", "strategies"):
        post(client, tokens["feed"], entity, book[entity])
    signals, statuses = book["signals"], []

    def send(k: int) -> None:
        mine = app.server.test_client()
        rows = signals[k * 10: k * 10 + 40]  # each overlaps the next client's
        statuses.append(post(mine, tokens["feed"], "signals", rows, "application/x-ndjson").get_json())

    threads = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = {s["signal_id"] for k in range(8) for s in signals[k * 10: k * 10 + 40]}
    assert sum(s["inserted"] for s in statuses) == len(sent)
    with app.server.extensions["tradeboard"].session() as session:
        stored = session.scalars(select(Signal.signal_id)).all()
    assert sorted(stored) == sorted(sent)


def test_a_first_fill_opens_a_position_with_no_closed_trade(app, tokens):
    client = app.server.test_client()
    book = random_book(37, strategies=("Mean Rev",))
    for entity in ("accounts", "strategies"):
        post(client, tokens["feed"], entity, book[entity])
    signal = next(s for s in book["signals"] if s["execution_status"] == "FILLED")
    assert post(client, tokens["feed"], "signals", [signal]).status_code == 200
    fill = next(e for e in book["executions"] if e["signal_id"] == signal["signal_id"])
    response = post(client, tokens["feed"], "executions", [fill])
    assert response.status_code == 200, response.get_json()
    with app.server.extensions["tradeboard"].session() as session:
        (position,) = session.scalars(select(Position)).all()
        sign = 1 if signal["side"] == "BUY" else -1
        assert position.quantity == sign * fill["filled_quantity"] and position.entry_price == fill["avg_fill_price"]
        assert session.scalar(select(func.count()).select_from(ClosedTrade)) == 0


def test_every_role_against_every_entity(app, tokens, users):
    """An empty batch gets past every check but the role's: who may write which entity, on both databases."""
    from tests.conftest import log_in

    with app.server.extensions["tradeboard"].session() as session:
        create_user(session, "cl", "client", password="client-password-123")
    clients = {}
    for role, (username, password) in {"admin": ("admin", users["admin"]), "analyst": ("analyst", users["analyst"]),
                                       "client": ("cl", "client-password-123"),
                                       "developer": ("dev", "dev-password-123")}.items():
        clients[role] = app.server.test_client()
        assert log_in(clients[role], username, password).status_code == 303
    clients["ingest"] = app.server.test_client()
    clients["ingest"].environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['feed']}"
    clients["anonymous"] = app.server.test_client()
    wrong = []
    for entity in ("accounts", "account-snapshots", "strategies", "signals", "executions", "paper-accounts",
                   "paper-trades", "paper-signals", "bars"):
        may = {"admin", "ingest"} | ({"developer"} if entity in ("signals", "executions") else set())
        for role, client in clients.items():
            status = client.post(f"/api/v1/ingest/{entity}", json=[]).status_code
            want = 200 if role in may else 401 if role == "anonymous" else 403
            if status != want:
                wrong.append(f"{role} {entity}: {status}, expected {want}")
    assert not wrong, "\n".join(wrong)


def test_an_optional_value_a_row_leaves_out_keeps_what_is_stored(app, tokens):
    """A re-sent signal without filled_at keeps the time its first fill gave it; a strategy re-sent without
    its developer keeps them; both answer unchanged. A default fills only new rows."""
    client = app.server.test_client()
    book = random_book(53, strategies=("Mean Rev",))
    send_book(client, tokens["feed"], book)
    unfilled = [{**s, "filled_at": None} for s in book["signals"]]
    again = post(client, tokens["feed"], "signals", unfilled, "text/csv").get_json()
    assert (again["updated"], again["unchanged"]) == (0, len(unfilled))
    with app.server.extensions["tradeboard"].session() as session:
        stamped = session.scalar(select(func.count()).select_from(Signal).where(Signal.filled_at.is_not(None)))
    assert stamped == sum(1 for s in book["signals"] if s["execution_status"] == "FILLED")

    bare = [{"strategy_name": "Mean Rev", "allocation": 0.4}]  # no account, status or developer
    assert post(client, tokens["feed"], "strategies", bare).get_json()["unchanged"] == 1
    dev = {"Authorization": f"Bearer {tokens['dev']}"}
    assert client.get("/api/v1/dashboards/signal-sender?strategy_name=Mean%20Rev", headers=dev).status_code == 200
    changed = post(client, tokens["feed"], "strategies", [{**bare[0], "status": "PAUSED"}]).get_json()
    assert changed["updated"] == 1


def test_a_key_repeated_in_one_batch_applies_each_row_on_the_one_before_it_as_separate_batches_would(app, tokens):
    """A later row of the same key that leaves an optional value out keeps what the row before it
    set, in one batch as across two; a paper trade's PnL left out is computed again when its prices
    change, and kept while they do not."""
    client = app.server.test_client()
    book = random_book(61, strategies=("Mean Rev",))
    for entity in ("accounts", "strategies", "signals"):
        assert post(client, tokens["feed"], entity, book[entity]).status_code == 200
    first = {**book["executions"][0], "execution_id": "exe_one_batch", "commission": 1.5}
    corrected = {k: v for k, v in first.items() if k != "commission"} | {"avg_fill_price": first["avg_fill_price"] + 1}
    one = post(client, tokens["feed"], "executions", [first, corrected], "application/x-ndjson").get_json()
    assert (one["inserted"], one["updated"]) == (1, 1)
    split = {**first, "execution_id": "exe_two_batches"}
    post(client, tokens["feed"], "executions", [split])
    post(client, tokens["feed"], "executions", [{**corrected, "execution_id": "exe_two_batches"}])
    with app.server.extensions["tradeboard"].session() as session:
        stored = dict(session.execute(select(Execution.execution_id, Execution.commission)
                                      .where(Execution.execution_id.like("exe_%_batch%"))).all())
    assert stored == {"exe_one_batch": 1.5, "exe_two_batches": 1.5}

    assert post(client, tokens["feed"], "paper-accounts", [{"account": "Lab", "starting_cash": 1000}]).status_code == 200
    opened, closed = iso(NOW - dt.timedelta(hours=2)), iso(NOW - dt.timedelta(hours=1))
    trade = {"trade_id": "pt_1", "account": "Lab", "source": "s", "symbol": "NVDA", "side": "long", "quantity": 10,
             "entry_price": 100.0, "opened_at": opened, "exit_price": 110.0, "closed_at": closed}
    signal = {"signal_id": "ps_1", "account": "Lab", "source": "s", "symbol": "NVDA", "side": "long",
              "action": "ENTRY", "quantity": 10, "price": 100.0, "signal_at": opened, "status": "EXECUTED",
              "trade_id": "pt_1", "executed_at": opened}

    def pnl() -> float:
        with app.server.extensions["tradeboard"].session() as session:
            return session.scalar(select(PaperTrade.realized_pnl).where(PaperTrade.external_id == "pt_1"))

    assert post(client, tokens["feed"], "paper-trades", [trade]).status_code == 200
    assert pnl() == pytest.approx(100.0)
    assert post(client, tokens["feed"], "paper-trades", [{**trade, "exit_price": 120.0}]).get_json()["updated"] == 1
    assert pnl() == pytest.approx(200.0)  # (120 - 100) x 10, not the 100 stored before
    sent = post(client, tokens["feed"], "paper-trades", [{**trade, "exit_price": 120.0, "realized_pnl": 185.0}])
    assert sent.get_json()["updated"] == 1 and pnl() == pytest.approx(185.0)  # the sender's own figure
    assert post(client, tokens["feed"], "paper-trades", [{**trade, "exit_price": 120.0}]).get_json()["unchanged"] == 1
    assert pnl() == pytest.approx(185.0)  # prices unchanged: the stored PnL stays

    bare = {k: v for k, v in signal.items() if k not in ("trade_id", "executed_at")} | {"price": 100.5}
    assert post(client, tokens["feed"], "paper-signals", [signal, bare], "text/csv").status_code == 200
    with app.server.extensions["tradeboard"].session() as session:
        row = session.execute(select(PaperSignal.paper_trade_id, PaperSignal.executed_at, PaperSignal.price)
                              .where(PaperSignal.external_id == "ps_1")).one()
    assert row.paper_trade_id is not None and row.executed_at is not None and row.price == 100.5


def test_a_fill_time_left_out_is_the_signals_earliest_fill_as_fills_arrive_late_or_are_corrected(app, tokens):
    """The signal's filled_at (and so its lag) follows its earliest fill while the sender leaves it
    out; once the sender sends one, it is theirs."""
    client = app.server.test_client()
    book = random_book(67, strategies=("Mean Rev",))
    for entity in ("accounts", "strategies"):
        assert post(client, tokens["feed"], entity, book[entity]).status_code == 200
    received = NOW - dt.timedelta(hours=3)
    signal = {"signal_id": "sig_late", "strategy_name": "Mean Rev", "symbol": "AAPL", "side": "BUY", "quantity": 10,
              "received_time": iso(received), "execution_status": "FILLED"}
    assert post(client, tokens["feed"], "signals", [signal]).status_code == 200
    admin = {"Authorization": f"Bearer {tokens['admin']}"}

    def fill(execution_id: str, seconds: int) -> dict:
        return {"execution_id": execution_id, "signal_id": "sig_late", "filled_at": iso(received + dt.timedelta(seconds=seconds)),
                "avg_fill_price": 100.0, "filled_quantity": 5}

    def lag() -> tuple[float, float]:
        with app.server.extensions["tradeboard"].session() as session:
            stored = session.scalar(select(Signal.filled_at).where(Signal.signal_id == "sig_late"))
        doc = client.get("/api/v1/dashboards/signal-sender?strategy_name=Mean%20Rev&time_range=7d", headers=admin)
        return (stored - received).total_seconds(), doc.get_json()["lag_metrics"]["median_signal_to_fill_seconds"]

    for fills, expected in (([fill("e2", 60)], 60), ([fill("e1", 30)], 30),  # a late fill, earlier than the first
                            ([fill("e1", 90)], 60)):  # e1 corrected to after e2
        assert post(client, tokens["feed"], "executions", fills).status_code == 200
        stored, median = lag()
        assert stored == expected and median == pytest.approx(expected, rel=0.01)
    sent = post(client, tokens["feed"], "signals", [{**signal, "filled_at": iso(received + dt.timedelta(seconds=45))}])
    assert sent.get_json()["updated"] == 1
    assert post(client, tokens["feed"], "executions", [fill("e0", 10)]).status_code == 200
    stored, median = lag()
    assert stored == 45 and median == pytest.approx(45, rel=0.01)  # the sender's time stays


def test_a_strategy_moved_to_another_account_takes_its_positions_and_trades_along(app, tokens):
    client = app.server.test_client()
    book = random_book(59, strategies=("Mean Rev",))
    send_book(client, tokens["feed"], book)
    assert post(client, tokens["feed"], "accounts", [{**book["accounts"][0], "account_name": "Other"}]).status_code == 200
    moved = post(client, tokens["feed"], "strategies", [{**book["strategies"][0], "account_name": "Other"}])
    assert moved.get_json()["updated"] == 1
    with app.server.extensions["tradeboard"].session() as session:
        other = session.scalar(select(Account.id).where(Account.name == "Other"))
        assert {p.account_id for p in session.scalars(select(Position))} == {other}
        assert {t.account_id for t in session.scalars(select(ClosedTrade))} == {other}


def test_a_batch_that_waits_too_long_for_the_ingest_lock_is_a_503_and_writes_nothing(app, tokens, monkeypatch):
    """Another transaction (a long backfill) holds the lock past the wait: 503 with Retry-After."""
    from data_access.ingest import batch

    monkeypatch.setattr(batch, "LOCK_WAIT_SECONDS", 1)
    engine = app.server.extensions["tradeboard"].engine
    client = app.server.test_client()
    accounts = random_book(61)["accounts"]
    with engine.connect() as holder:
        holding = holder.begin()
        batch.lock_ingest(holder)
        started = time.monotonic()
        response = post(client, tokens["feed"], "accounts", accounts)
        waited = time.monotonic() - started
        holding.rollback()
    assert response.status_code == 503 and response.headers["Retry-After"], response.get_json()
    assert response.get_json()["error"]["code"] == "ingest_busy" and 0.9 < waited < 10
    assert post(client, tokens["feed"], "accounts", accounts).get_json()["inserted"] == len(accounts)
