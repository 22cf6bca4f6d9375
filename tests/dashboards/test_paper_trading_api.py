"""`/api/v1/dashboards/paper-trading` and `/paper-trading/lite` over HTTP (Flask test client) on
seeded demo data: the whole document, parameters, roles, a failing section, the lite summary."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.auth import create_user
from data_access import paper_trading as pt
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures

URL = "/api/v1/dashboards/paper-trading"
DOCUMENT_KEYS = {"overview", "open_positions", "shadow_positions", "exit_signals", "queued_signals", "recent_trades",
                 "performance_metrics", "top_performers", "trading_stats", "source_performance", "pnl_curve",
                 "daily_returns", "gex", "health", "metadata", "sections"}


@pytest.fixture
def admin(demo_app, users):  # noqa: F811
    return signed_in(demo_app, "admin", users["admin"])


def test_every_section_in_one_response_with_metadata_then_from_cache(admin):
    cold = admin.get(f"{URL}?limit=5").get_json()
    assert DOCUMENT_KEYS <= set(cold) and "errors" not in cold, cold.get("errors")
    assert set(cold["metadata"]) >= {"response_time_ms", "cache_hits", "cache_misses", "timestamp"}
    assert cold["metadata"]["cache_misses"] and not cold["metadata"]["cache_hits"]
    assert len(cold["open_positions"]) == 5 and cold["open_positions_total"]["count"] > 5
    assert cold["overview"]["total_accounts"] == 2 and cold["gex"] and cold["source_performance"]
    warm = admin.get(f"{URL}?limit=5").get_json()
    assert set(warm["metadata"]["cache_hits"]) == set(cold["metadata"]["cache_misses"])
    assert not warm["metadata"]["cache_misses"]
    forced = admin.get(f"{URL}?limit=5&refresh=true").get_json()
    assert set(forced["metadata"]["cache_misses"]) == set(cold["metadata"]["cache_misses"])


@pytest.mark.parametrize("query, parameter", [("limit=0", "limit"), ("limit=501", "limit"), ("limit=all", "limit"),
                                              ("refresh=maybe", "refresh")])
def test_bad_parameters_are_a_400_naming_the_valid_values(admin, query, parameter):
    response = admin.get(f"{URL}?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_parameter" and error["details"]["parameter"] == parameter


def test_only_admins_and_analysts_read_paper_trading(demo_app, users):  # noqa: F811
    anonymous = demo_app.server.test_client()
    assert anonymous.get(URL).status_code == 401 and anonymous.get(f"{URL}/lite").status_code == 401
    with demo_app.server.extensions["tradeboard"].session() as session:
        create_user(session, "client1", "client", password="client-password-123")
    for username, password, status in (("analyst", users["analyst"], 200), ("dev", "developer-password-123", 403),
                                       ("client1", "client-password-123", 403)):
        client = signed_in(demo_app, username, password)
        assert client.get(f"{URL}?limit=3").status_code == status, username
        assert client.get(f"{URL}/lite").status_code == status, username


def test_a_section_that_fails_leaves_a_200_with_the_others_and_the_error(demo_app, admin):  # noqa: F811
    with demo_app.server.extensions["tradeboard"].engine.begin() as conn:
        conn.execute(text("ALTER TABLE paper_signals RENAME TO paper_signals_gone"))
    response = admin.get(f"{URL}?refresh=true")
    assert response.status_code == 200
    doc = response.get_json()
    assert {"shadow_positions", "exit_signals", "queued_signals", "source_performance"} <= set(doc["errors"])
    assert "paper_signals" in doc["errors"]["queued_signals"]
    assert doc["overview"]["active_trades"] > 0 and doc["recent_trades"] and doc["pnl_curve"]["data_points"]
    assert doc["health"]["status"] == "unhealthy"


def test_lite_answers_the_overview_numbers(admin):
    lite = admin.get(f"{URL}/lite").get_json()
    assert set(lite) == {"total_pnl", "win_rate", "active_trades", "daily_pnl", "timestamp", "cached"}
    overview = admin.get(URL).get_json()["overview"]
    for key in ("total_pnl", "win_rate", "active_trades", "daily_pnl"):
        assert lite[key] == pytest.approx(overview[key]), key
    assert admin.get(f"{URL}/lite").get_json()["cached"] is True
    assert pt.MAX_LIMIT == 500
