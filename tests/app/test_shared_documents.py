"""Concurrent requests for one dashboard document share one build (app/shared_documents.py), on
demo data over HTTP (Flask's test client, one per thread): a request that arrives while a build runs
gets a later build that sees what was committed meanwhile, and a document is never shared between
users a view tells apart (a client's accounts, a developer's strategies)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.auth import create_token, create_user
from data_access import client_dashboard, paper_trading, signal_sender_dashboard
from data_access.models import Account, PaperAccount, PaperTrade, Strategy
from tests.dashboards.test_client_page import demo_app  # noqa: F401 - fixture

PAPER = "/api/v1/dashboards/paper-trading"
BUILD_SECONDS = 0.4  # each build is held this long after it has read the database


@pytest.fixture
def slow_builds(monkeypatch):
    """Every paper-trading, client and signal-sender document build is counted and held for BUILD_SECONDS after it
    has read everything, so requests sent meanwhile overlap it."""
    started: list[float] = []

    def slowed(build):
        def wrapper(*args, **kwargs):
            started.append(time.perf_counter())
            doc = build(*args, **kwargs)
            time.sleep(BUILD_SECONDS)
            return doc
        return wrapper

    monkeypatch.setattr(paper_trading, "paper_trading_dashboard_for", slowed(paper_trading.paper_trading_dashboard_for))
    monkeypatch.setattr("app.dashboards_api.client_dashboard_for", slowed(client_dashboard.client_dashboard_for))
    monkeypatch.setattr(signal_sender_dashboard, "signal_sender_dashboard_for",
                        slowed(signal_sender_dashboard.signal_sender_dashboard_for))
    return started


def bearer(dash_app, username: str, role: str, **user) -> dict[str, str]:
    with dash_app.server.extensions["tradeboard"].session() as session:
        create_user(session, username, role, password=f"{username}-password-123", **user)
        return {"Authorization": f"Bearer {create_token(session, username, 'test')}"}


def get_all(dash_app, requests: list[tuple[str, dict]]) -> list:
    """``requests`` sent at once from one thread each; their responses in order."""
    gate = threading.Barrier(len(requests))

    def send(request):
        path, headers = request
        client = dash_app.server.test_client()
        gate.wait()
        return client.get(path, headers=headers)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def test_concurrent_requests_share_a_build_and_none_gets_a_document_older_than_itself(demo_app, slow_builds):  # noqa: F811
    analyst = bearer(demo_app, "analyst-shared", "analyst")
    demo_app.server.test_client().get(PAPER, headers=analyst)  # warm: the cached sections are in Redis
    slow_builds.clear()

    responses = get_all(demo_app, [(f"{PAPER}?limit=5", analyst)] * 12)
    assert [r.status_code for r in responses] == [200] * 12
    assert len(slow_builds) <= 3, f"12 concurrent requests made {len(slow_builds)} builds"
    assert len({r.get_data() for r in responses}) == len(slow_builds)  # each build's bytes, shared

    # a request arriving while a build runs gets the next build, which sees what was committed meanwhile
    slow_builds.clear()
    first = ThreadPoolExecutor(1).submit(lambda: demo_app.server.test_client().get(f"{PAPER}?limit=5", headers=analyst))
    while not slow_builds:
        time.sleep(0.005)
    time.sleep(0.1)  # the first build has read the database and is being held
    with demo_app.server.extensions["tradeboard"].session() as session:
        account = session.query(PaperAccount).first()
        session.add(PaperTrade(paper_account_id=account.id, source="test", symbol="NVDA", side="long", quantity=3,
                               entry_price=100.0, status="OPEN",
                               opened_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    second = demo_app.server.test_client().get(f"{PAPER}?limit=5", headers=analyst).get_json()
    before = first.result().get_json()
    assert len(slow_builds) == 2
    assert second["open_positions_total"]["count"] == before["open_positions_total"]["count"] + 1
    assert second["open_positions"][0]["symbol"] == "NVDA"
    assert second["metadata"]["timestamp"] >= before["metadata"]["timestamp"]


def test_clients_limited_to_different_accounts_never_share_a_document(demo_app, slow_builds):  # noqa: F811
    with demo_app.server.extensions["tradeboard"].session() as session:
        names = sorted(a.name for a in session.query(Account))
    assert len(names) >= 2
    analyst = bearer(demo_app, "analyst-scopes", "analyst")
    first = bearer(demo_app, "client-first", "client", account_scope=names[0])
    second = bearer(demo_app, "client-second", "client", account_scope=names[1])
    url = "/api/v1/dashboards/client?time_range=30d"
    responses = get_all(demo_app, [(url, first), (url, second), (url, analyst)] * 3)
    assert [r.status_code for r in responses] == [200] * 9
    seen = [[a["account_name"] for a in r.get_json()["accounts"]] for r in responses]
    assert seen == [[names[0]], [names[1]], names] * 3
    assert len(slow_builds) >= 3  # one audience's build was never handed to another


def test_a_developer_never_receives_another_developers_strategy_built_for_an_analyst(demo_app, slow_builds):  # noqa: F811
    with demo_app.server.extensions["tradeboard"].session() as session:
        strategy = session.query(Strategy).first().name
    analyst = bearer(demo_app, "analyst-dev", "analyst")
    outsider = bearer(demo_app, "dev-outsider", "developer")
    url = f"/api/v1/dashboards/signal-sender?strategy_name={strategy}"
    responses = get_all(demo_app, [(url, analyst), (url, outsider)] * 4)
    assert [r.status_code for r in responses] == [200, 403] * 4
    assert all(r.get_json()["error"]["code"] == "forbidden" for r in responses[1::2])
    assert all(r.get_json()["strategy_name"] == strategy for r in responses[::2])
