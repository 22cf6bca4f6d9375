"""A client user limited to named accounts (``User.account_scope``) sees only those accounts: on the
hand-built fund of test_client_dashboard (SQLite and PostgreSQL, real redis-server), every section
of the document is restricted, the totals are those accounts' sums, a scoped and an unscoped read
never share a cached value, and the client page's callback applies the scope of a client user only."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from app.auth import create_user
from data_access import client_dashboard as cd
from data_access.cache import sections
from layouts import client_ids as ids
from tests.conftest import build_app
from tests.dashboards.test_client_dashboard import (  # noqa: F401 - fixtures
    AS_OF,
    build_fund,
    fund,
    price_lookups,
    statements_during,
)
from tests.dashboards.test_client_page import signed_in
from tests.dashboards.test_signal_sender_page import dash_call

IBKR_EQUITY = 1_000_000 + 1_000 * 40  # its last snapshot, on AS_OF
ALPACA_EQUITY = 500_000 - 3_000 * (39 % 3)  # carried forward from the day before


def test_a_scoped_document_has_only_the_named_accounts_data(fund):
    doc = cd.client_dashboard("30d", as_of=AS_OF, accounts=("IBKR Main",))
    assert doc["account_scope"] == ["IBKR Main"]
    assert [a["account_name"] for a in doc["accounts"]] == ["IBKR Main"]
    assert [s["strategy_name"] for s in doc["strategy_performance"]] == ["Momentum"]  # Carry is on Alpaca
    assert [(p["strategy_name"], p["symbol"]) for p in doc["positions"]] == [("Momentum", "AAPL")]
    assert len(doc["recent_signals"]) == cd.RECENT_SIGNALS  # every signal is Momentum's
    assert {s["strategy_name"] for s in doc["recent_signals"]} == {"Momentum"}

    o = doc["overview"]
    assert o["total_aum"] == 1_000_000
    assert o["total_equity"] == pytest.approx(IBKR_EQUITY)
    assert o["total_pnl"] == pytest.approx(IBKR_EQUITY - 1_000_000)
    assert o["total_pnl_pct"] == pytest.approx(4.0)
    assert o["margin_utilization"] == pytest.approx(100_000 / 400_000 * 100)
    assert o["cash"] == 400_000 and o["unrealized_pnl"] == 5_000
    assert o["number_of_strategies"] == 1 and o["open_positions"] == 1

    momentum = doc["strategy_performance"][0]
    assert momentum["capital"] == pytest.approx(0.5 * 1_000_000)  # its allocation of the AUM in view
    assert momentum["realized_pnl"] == pytest.approx(200.0) and momentum["unrealized_pnl"] == pytest.approx(400.0)
    assert momentum["pnl_pct"] == pytest.approx(600 / 500_000 * 100)

    # the equity curve is IBKR's alone: 1,000 a day, 1,010,000 thirty days back
    curve = doc["equity_curve"]
    assert curve[0] == {"date": (AS_OF - dt.timedelta(days=30)).isoformat(),
                        "equity": pytest.approx(1_010_000), "drawdown_pct": pytest.approx(0.0)}
    assert curve[-1]["equity"] == pytest.approx(IBKR_EQUITY)
    assert doc["daily_returns"][-1]["return_pct"] == pytest.approx((IBKR_EQUITY / (IBKR_EQUITY - 1_000) - 1) * 100)
    assert doc["risk_metrics"]["max_drawdown"] == pytest.approx(0.0)  # it only ever grows


def test_the_other_account_gets_its_own_strategy_position_and_no_signals(fund):
    doc = cd.client_dashboard("30d", as_of=AS_OF, accounts=("Alpaca",))
    assert [a["account_name"] for a in doc["accounts"]] == ["Alpaca"]
    assert [s["strategy_name"] for s in doc["strategy_performance"]] == ["Carry"]
    assert [p["symbol"] for p in doc["positions"]] == ["TSLA"]
    assert doc["recent_signals"] == []
    o = doc["overview"]
    assert o["total_aum"] == 500_000 and o["total_equity"] == pytest.approx(ALPACA_EQUITY)
    assert o["total_pnl"] == pytest.approx(ALPACA_EQUITY - 500_000)
    assert o["number_of_strategies"] == 0 and o["open_positions"] == 1  # Carry is paused
    assert doc["equity_curve"][-1]["equity"] == pytest.approx(ALPACA_EQUITY)  # carried into the last day


def test_a_scope_of_every_account_adds_up_to_the_unscoped_fund(fund):
    whole = cd.client_dashboard("30d", as_of=AS_OF)
    both = cd.client_dashboard("30d", as_of=AS_OF, accounts=("IBKR Main", "Alpaca"))
    assert "account_scope" not in whole and both["account_scope"] == ["Alpaca", "IBKR Main"]
    assert both["overview"] == whole["overview"]
    assert both["overview"]["total_equity"] == pytest.approx(IBKR_EQUITY + ALPACA_EQUITY)
    assert both["accounts"] == whole["accounts"]
    assert both["equity_curve"] == whole["equity_curve"] and both["risk_metrics"] == whole["risk_metrics"]
    assert both["recent_signals"] == whole["recent_signals"]


def test_an_unknown_account_name_matches_nothing_rather_than_failing(fund):
    doc = cd.client_dashboard("30d", as_of=AS_OF, accounts=("No Such Account",))
    assert "errors" not in doc
    assert doc["accounts"] == [] and doc["strategy_performance"] == [] and doc["positions"] == []
    assert doc["recent_signals"] == [] and doc["equity_curve"] == [] and doc["daily_returns"] == []
    assert doc["overview"]["total_aum"] == 0 and doc["overview"]["total_pnl_pct"] is None
    assert all(v is None for v in doc["risk_metrics"].values())
    known_and_unknown = cd.client_dashboard("30d", as_of=AS_OF, accounts=("Alpaca", "No Such Account"))
    assert [a["account_name"] for a in known_and_unknown["accounts"]] == ["Alpaca"]


def test_scoped_and_unscoped_reads_never_share_a_cached_value(fund):
    scoped = cd.client_dashboard("30d", as_of=AS_OF, accounts=("IBKR Main",))
    assert scoped["metadata"]["cache_hits"] == []
    unscoped = cd.client_dashboard("30d", as_of=AS_OF)  # after a scoped read: not served the scoped values
    assert unscoped["metadata"]["cache_hits"] == []
    assert len(unscoped["accounts"]) == 2 and unscoped["overview"]["total_aum"] == 1_500_000
    assert len(unscoped["positions"]) == 2

    sections.redis.flushdb()
    cd.client_dashboard("30d", as_of=AS_OF)
    scoped_after = cd.client_dashboard("30d", as_of=AS_OF, accounts=("IBKR Main",))  # and the other way round
    assert scoped_after["metadata"]["cache_hits"] == []
    assert [a["account_name"] for a in scoped_after["accounts"]] == ["IBKR Main"]
    assert scoped_after["overview"] == scoped["overview"]

    # each is then served from its own cached sections; the scope's order and spacing do not matter
    again = cd.client_dashboard("30d", as_of=AS_OF, accounts=(" IBKR Main", "IBKR Main"))
    assert again["metadata"]["cached"] is True and again["overview"] == scoped["overview"]
    assert cd.client_dashboard("30d", as_of=AS_OF)["metadata"]["cached"] is True
    other = cd.client_dashboard("30d", as_of=AS_OF, accounts=("Alpaca",))
    assert other["metadata"]["cache_hits"] == [] and other["overview"]["total_aum"] == 500_000


def test_a_scoped_cold_build_runs_no_more_statements_than_an_unscoped_one(fund):
    cold, statements = statements_during(fund, lambda: cd.client_dashboard("90d", as_of=AS_OF, accounts=("Alpaca",)))
    assert len(price_lookups(statements)) == 1 and len(statements) <= 6 + 1, statements
    warm, statements = statements_during(fund, lambda: cd.client_dashboard("90d", as_of=AS_OF, accounts=("Alpaca",)))
    assert statements == [] and warm["metadata"]["cached"] is True


def test_normalize_accounts_makes_a_sorted_tuple_of_names():
    assert cd.normalize_accounts(()) == () and cd.normalize_accounts(None) == ()
    assert cd.normalize_accounts(("b", " a", "b", "")) == ("a", "b")
    assert cd.normalize_accounts("b, a,,") == ("a", "b")


# --------------------------------------------------------------------------- the page's callback


@pytest.fixture
def fund_app(app_settings, redis_client):
    build_fund(app_settings.DATABASE_URL)
    dash_app = build_app(app_settings)
    with dash_app.server.extensions["tradeboard"].session() as session:
        create_user(session, "carol", "client", password="client-password-123", account_scope="IBKR Main")
        create_user(session, "dave", "client", password="client-password-456")
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


def load(client) -> dict:
    response = dash_call(client, [(ids.DOCUMENT, "data"), (ids.STATUS, "children")], [
        {"id": ids.TIME_RANGE, "property": "value", "value": "all"},
        {"id": ids.TICK, "property": "n_intervals", "value": None},
        {"id": ids.REFRESH_NOW, "property": "n_clicks", "value": None},
    ])
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["response"][ids.DOCUMENT]["data"]


def test_the_page_shows_a_scoped_client_only_its_accounts_and_an_analyst_everything(fund_app, users):
    carol = load(signed_in(fund_app, "carol", "client-password-123"))
    assert carol["account_scope"] == ["IBKR Main"]
    assert [a["account_name"] for a in carol["accounts"]] == ["IBKR Main"]
    assert [s["strategy_name"] for s in carol["strategy_performance"]] == ["Momentum"]
    assert [p["symbol"] for p in carol["positions"]] == ["AAPL"]
    assert carol["overview"]["total_aum"] == 1_000_000 and "Alpaca" not in json.dumps(carol)

    analyst = load(signed_in(fund_app, "analyst", users["analyst"]))  # after carol's read: not her cached values
    assert "account_scope" not in analyst
    assert [a["account_name"] for a in analyst["accounts"]] == ["Alpaca", "IBKR Main"]
    assert {s["strategy_name"] for s in analyst["strategy_performance"]} == {"Momentum", "Carry"}
    assert analyst["overview"]["total_aum"] == 1_500_000

    unscoped_client = load(signed_in(fund_app, "dave", "client-password-456"))
    assert [a["account_name"] for a in unscoped_client["accounts"]] == ["Alpaca", "IBKR Main"]


def test_a_scope_on_an_analyst_does_not_limit_the_page(fund_app, users):
    with fund_app.server.extensions["tradeboard"].session() as session:
        create_user(session, "eve", "analyst", password="analyst-password-456", account_scope="Alpaca")
    doc = load(signed_in(fund_app, "eve", "analyst-password-456"))
    assert [a["account_name"] for a in doc["accounts"]] == ["Alpaca", "IBKR Main"]
