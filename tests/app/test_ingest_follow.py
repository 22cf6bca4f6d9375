"""Dashboards follow what is ingested, on SQLite and PostgreSQL: a signal shows in the signal-sender
and client JSON at the next read (no force_refresh) although both were cached; a paper trade shows in
the real-time paper sections at once; fills sent in any order of batches end in the same positions."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import select

from app.auth import create_token, create_user
from data_access.models import ClosedTrade, Position
from tests.app.test_ingest_api import NOW, expected_fifo, iso, post, random_book
from tests.conftest import build_app


@pytest.fixture(params=["sqlite", "postgresql"])
def book_app(request, app_settings):
    import dataclasses

    url = app_settings.DATABASE_URL if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    dash_app = build_app(dataclasses.replace(app_settings, DATABASE_URL=url))
    with dash_app.server.extensions["tradeboard"].session() as session:
        create_user(session, "feed", "ingest", password="feed-password-123")
    with dash_app.server.extensions["tradeboard"].session() as session:
        dash_app.tokens = {name: create_token(session, name, "test") for name in ("feed", "admin")}
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


def test_a_signal_ingested_shows_in_the_cached_dashboards_at_the_next_read(book_app, redis_client):
    client, feed = book_app.server.test_client(), book_app.tokens["feed"]
    admin = {"Authorization": f"Bearer {book_app.tokens['admin']}"}
    book = random_book(41, strategies=("Mean Rev",), developer=None)
    for entity in ("accounts", "strategies", "signals"):
        assert post(client, feed, entity, book[entity]).status_code == 200
    sender = "/api/v1/dashboards/signal-sender?strategy_name=Mean%20Rev&time_range=7d"
    fund = "/api/v1/dashboards/client?time_range=7d"
    for path in (sender, fund):
        client.get(path, headers=admin)
        assert client.get(path, headers=admin).get_json()["metadata"]["cached"] is True

    new = {**book["signals"][0], "signal_id": "sig_brand_new", "received_time": iso(NOW - dt.timedelta(seconds=5)),
           "execution_status": "PENDING", "filled_at": None}
    assert post(client, feed, "signals", [new], "application/x-ndjson").status_code == 200

    doc = client.get(sender, headers=admin).get_json()
    assert doc["performance"]["total_signals_sent"] == len(book["signals"]) + 1
    assert doc["signal_history"][0]["signal_id"] == "sig_brand_new"
    assert client.get(fund, headers=admin).get_json()["recent_signals"][0]["signal_id"] == "sig_brand_new"


def test_a_paper_trade_ingested_shows_in_the_real_time_paper_sections_at_once(book_app, redis_client):
    client, feed = book_app.server.test_client(), book_app.tokens["feed"]
    admin = {"Authorization": f"Bearer {book_app.tokens['admin']}"}
    assert post(client, feed, "paper-accounts", [{"account": "Lab", "starting_cash": 100_000}]).status_code == 200
    opened = iso(NOW - dt.timedelta(minutes=3))
    trade = {"trade_id": "pt_1", "account": "Lab", "source": "momentum", "symbol": "nvda", "side": "long",
             "quantity": 20, "entry_price": 131.4, "opened_at": opened}
    assert post(client, feed, "paper-trades", [trade]).status_code == 200
    doc = client.get("/api/v1/dashboards/paper-trading?limit=20", headers=admin).get_json()
    assert [p["symbol"] for p in doc["open_positions"]] == ["NVDA"]

    closed = {**trade, "exit_price": 134.1, "closed_at": iso(NOW - dt.timedelta(minutes=1))}
    assert post(client, feed, "paper-trades", [closed], "text/csv").get_json()["updated"] == 1
    doc = client.get("/api/v1/dashboards/paper-trading?limit=20", headers=admin).get_json()
    assert doc["open_positions"] == []
    (recent,) = doc["recent_trades"]
    assert recent["realized_pnl"] == pytest.approx(20 * (134.1 - 131.4), abs=0.01)
    signal = {"signal_id": "ps_1", "account": "Lab", "source": "momentum", "symbol": "NVDA", "side": "long",
              "action": "ENTRY", "quantity": 20, "price": 131.2, "signal_at": opened, "status": "EXECUTED",
              "trade_id": "pt_1", "executed_at": opened}
    assert post(client, feed, "paper-signals", [signal]).status_code == 200
    unknown = post(client, feed, "paper-signals", [{**signal, "signal_id": "ps_2", "trade_id": "pt_404"}])
    assert unknown.status_code == 400 and "pt_404" in unknown.get_json()["error"]["details"]["errors"][0]["message"]


def test_new_bars_reprice_the_paper_overview_at_the_next_read(book_app, redis_client):
    """The overview (and the lite endpoint, which is it) prices the open book with the latest bars:
    bars ingested invalidate it although it was cached."""
    client, feed = book_app.server.test_client(), book_app.tokens["feed"]
    admin = {"Authorization": f"Bearer {book_app.tokens['admin']}"}
    assert post(client, feed, "paper-accounts", [{"account": "Lab", "starting_cash": 100_000}]).status_code == 200
    trade = {"trade_id": "pt_1", "account": "Lab", "source": "momentum", "symbol": "NVDA", "side": "long",
             "quantity": 20, "entry_price": 100.0, "opened_at": iso(NOW - dt.timedelta(days=3))}
    assert post(client, feed, "paper-trades", [trade]).status_code == 200

    def bar(days_ago: int, close: float) -> dict:
        day = (NOW - dt.timedelta(days=days_ago)).date().isoformat()
        return {"symbol": "NVDA", "timeframe": "1d", "time": f"{day}T00:00:00Z", "open": close, "high": close,
                "low": close, "close": close, "volume": 1000}

    assert post(client, feed, "bars", [bar(2, 105.0)]).status_code == 200
    lite = "/api/v1/dashboards/paper-trading/lite"
    client.get(lite, headers=admin)
    first = client.get(lite, headers=admin).get_json()
    assert first["cached"] is True
    assert first["total_pnl"] == pytest.approx(20 * 5.0)  # nothing closed: the open trade at the last close
    assert post(client, feed, "bars", [bar(1, 110.0)]).status_code == 200
    assert client.get(lite, headers=admin).get_json()["total_pnl"] == pytest.approx(20 * 10.0)


@pytest.mark.parametrize("seed", [3, 5])
def test_fills_sent_in_any_order_of_batches_end_in_the_same_positions_and_trades(book_app, seed):
    client, feed = book_app.server.test_client(), book_app.tokens["feed"]
    book = random_book(43, developer=None)
    for entity in ("accounts", "strategies", "signals"):
        post(client, feed, entity, book[entity])
    fills = list(book["executions"])
    random.Random(seed).shuffle(fills)  # late fills arrive after later ones
    for lo in range(0, len(fills), 17):
        assert post(client, feed, "executions", fills[lo:lo + 17]).status_code == 200
    realized, open_qty = expected_fifo(book)
    with book_app.server.extensions["tradeboard"].session() as session:
        pnl = {}
        for trade in session.scalars(select(ClosedTrade)):
            pnl[trade.strategy_id] = pnl.get(trade.strategy_id, 0.0) + trade.realized_pnl
        positions = sorted(p.quantity for p in session.scalars(select(Position)))
    assert sorted(pnl.values()) == pytest.approx(sorted(realized.values()), abs=1e-6)
    assert positions == sorted(open_qty.values())


WRITES = {"accounts": {"accounts"}, "account-snapshots": {"accounts"}, "strategies": {"strategies"},
          "signals": {"signals"}, "executions": {"signals", "positions", "trades"}, "paper-accounts": {"paper"},
          "paper-trades": {"paper"}, "paper-signals": {"paper"}, "bars": {"bars"}}


def test_each_write_bumps_exactly_the_families_it_changes_and_a_resend_none(book_app, redis_client):
    from pathlib import Path

    from data_access.cache import sections

    examples = Path(__file__).resolve().parents[2] / "examples"
    client, feed = book_app.server.test_client(), book_app.tokens["feed"]
    families = sorted(sections.families)

    def generations() -> dict[str, int]:
        return {f: int(redis_client.get(f"tb:gen:{f}") or 0) for f in families}

    for entity, changed in WRITES.items():
        (path,) = examples.glob(f"{entity}.*")
        content_type = {".csv": "text/csv", ".ndjson": "application/x-ndjson", ".json": "application/json"}[path.suffix]
        before = generations()
        dry = post(client, feed, entity, path.read_bytes(), content_type, query="?dry_run=true").get_json()
        assert dry["dry_run"] and dry["inserted"] > 0 and generations() == before, f"a dry run of {entity} invalidated"
        assert post(client, feed, entity, path.read_bytes(), content_type).status_code == 200
        after = generations()
        assert {f for f in families if after[f] != before[f]} == changed, entity
        assert post(client, feed, entity, path.read_bytes(), content_type).get_json()["inserted"] == 0
        assert generations() == after, f"a re-sent {entity} batch changed nothing and must invalidate nothing"


def test_a_position_in_a_symbol_without_prices_is_a_documented_partial_section(book_app, redis_client):
    from app.openapi import document
    from tests.app.test_openapi import Spec

    client, feed = book_app.server.test_client(), book_app.tokens["feed"]
    admin = {"Authorization": f"Bearer {book_app.tokens['admin']}"}
    book = random_book(47, strategies=("Mean Rev",), developer=None)
    for entity in ("accounts", "strategies", "signals", "executions"):
        assert post(client, feed, entity, book[entity]).status_code == 200
    spec = Spec(document())
    for path in ("/api/v1/dashboards/client?time_range=7d",
                 "/api/v1/dashboards/signal-sender?strategy_name=Mean%20Rev&time_range=7d"):
        response = client.get(path, headers=admin)
        spec.check("GET", path.split("?")[0], response)  # no bars at all: every position unpriced
        doc = response.get_json()
        positions = doc.get("positions") or doc.get("current_positions")
        assert positions and all(p["current_price"] is None and p["unrealized_pnl"] is None for p in positions)
        assert doc["metadata"]["partial_sections"]
