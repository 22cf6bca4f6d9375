"""An empty book: every dashboard's JSON answers a valid empty document (200, empty lists and nulls, as
the OpenAPI document says), and the examples/ files, imported through the ingest API in their order,
make a small whole book the dashboards read back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.auth import create_token
from tests.app.test_openapi import Spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_ORDER = ["accounts", "account-snapshots", "strategies", "signals", "executions", "paper-accounts",
                 "paper-trades", "paper-signals", "bars"]
CONTENT_TYPES = {".csv": "text/csv", ".ndjson": "application/x-ndjson", ".json": "application/json"}

DASHBOARDS = [  # every GET that reads the book, each answering a document on an empty one
    "/api/v1/dashboards/client",
    "/api/v1/dashboards/client?time_range=all",
    "/api/v1/dashboards/paper-trading",
    "/api/v1/dashboards/paper-trading/lite",
    "/api/v1/dashboards/strategy-performance",
    "/api/v1/dashboards/strategy-performance?time_range=all",
    "/api/v1/backtests",
    "/api/dashboards/client",
    "/api/strategy/performance/",
    "/api/public/dashboard/v2/",
    "/api/public/dashboard/lite/",
    "/api/dashboard",
]


@pytest.fixture
def app_settings(app_settings, redis_client):
    """On a flushed test Redis (no sections cached from another test's book), without GEX symbols: with no SPY or QQQ bars the simulated GEX provider names them unavailable, a
    partial section the Metadata schema does not allow yet (test_a_partial_section_fits_the_metadata_schema)."""
    return dataclasses.replace(app_settings, GEX_SYMBOLS="")


@pytest.fixture
def spec() -> Spec:
    from app.openapi import document

    return Spec(document())


def import_examples(dash_app, entities=EXAMPLE_ORDER) -> None:
    """POST each examples/ file to its ingest route, in the order that makes a whole book."""
    with dash_app.server.extensions["tradeboard"].session() as session:
        token = create_token(session, "admin", "examples")
    client = dash_app.server.test_client()
    for entity in entities:
        path = next(EXAMPLES.glob(f"{entity}.*"))
        response = client.post(f"/api/v1/ingest/{entity}", data=path.read_bytes(),
                               content_type=CONTENT_TYPES[path.suffix], headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, (entity, response.get_data(as_text=True)[:500])


def test_every_dashboard_answers_a_valid_empty_document_on_an_empty_book(client, spec):
    for path in DASHBOARDS:
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        spec.check("GET", path, response)
        assert "errors" not in response.get_json(), (path, response.get_json().get("errors"))

    fund = client.get("/api/v1/dashboards/client").get_json()
    assert fund["accounts"] == fund["strategy_performance"] == fund["positions"] == fund["recent_signals"] == []
    assert fund["equity_curve"] == fund["daily_returns"] == []
    assert fund["overview"]["total_aum"] == 0 and fund["overview"]["margin_utilization"] is None
    assert set(fund["risk_metrics"].values()) == {None}
    paper = client.get("/api/v1/dashboards/paper-trading").get_json()
    assert paper["overview"]["total_accounts"] == 0 and paper["open_positions"] == paper["recent_trades"] == []
    strategies = client.get("/api/v1/dashboards/strategy-performance").get_json()
    assert strategies["backtest_count"] == 0 and strategies["configurations"] == [] and strategies["heatmap_axes"] is None
    assert client.get("/api/v1/backtests").get_json()["runs"] == []

    # no strategy yet: the signal-sender route says which one is missing, as documented
    missing = client.get("/api/v1/dashboards/signal-sender?strategy_name=Momentum US")
    assert missing.status_code == 404 and "Momentum US" in missing.get_json()["error"]["message"]
    spec.check("GET", "/api/v1/dashboards/signal-sender", missing)


def test_a_strategy_with_no_signals_yet_answers_an_empty_signal_sender_document(app, client, spec):
    import_examples(app, ["accounts", "strategies"])
    for path in ("/api/v1/dashboards/signal-sender?strategy_name=Momentum US",
                 "/api/v1/dashboards/signal-sender?strategy_name=Momentum US&time_range=all",
                 "/api/v1/dashboards/signal-sender/signals?strategy_name=Momentum US",
                 "/api/dashboards/signal-sender?strategy_name=Momentum US"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        spec.check("GET", path, response)
        assert "errors" not in response.get_json(), path
    doc = client.get("/api/v1/dashboards/signal-sender?strategy_name=Momentum US").get_json()
    assert doc["performance"]["total_signals_sent"] == 0 and doc["performance"]["fill_rate"] is None
    assert doc["current_positions"] == doc["cumulative_pnl"] == doc["rejection_reasons"] == []


def test_the_examples_make_a_small_whole_book_the_dashboards_read(app, client, spec):
    import_examples(app)
    for path in [*DASHBOARDS, "/api/v1/dashboards/signal-sender?strategy_name=Momentum US&time_range=all"]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
        spec.check("GET", path, response)
        assert "errors" not in response.get_json(), (path, response.get_json().get("errors"))

    fund = client.get("/api/v1/dashboards/client?time_range=all").get_json()
    assert {a["account_name"] for a in fund["accounts"]} == {"Desk Main", "Desk Crypto"}
    assert fund["overview"]["total_aum"] == 2_900_000
    curve = [(p["date"], p["equity"]) for p in fund["equity_curve"]]
    assert curve[:2] == [("2026-12-03", 2_933_350.5), ("2026-12-04", 2_943_731.0)]  # the two days of snapshots
    assert {equity for _, equity in curve[2:]} <= {2_943_731.0}  # then carried to today
    sender = client.get("/api/v1/dashboards/signal-sender?strategy_name=Momentum US&time_range=all").get_json()
    assert sender["performance"]["total_signals_sent"] == 3 and sender["performance"]["signals_rejected"] == 1
    assert [(p["symbol"], p["quantity"]) for p in sender["current_positions"]] == [("AAPL", 40)]
    paper = client.get("/api/v1/dashboards/paper-trading").get_json()
    assert paper["overview"]["total_accounts"] == 1 and paper["overview"]["closed_trades"] == 1
    assert [t["symbol"] for t in paper["open_positions"]] == ["AMD"]


def test_a_partial_section_fits_the_metadata_schema(spec):
    from jsonschema import Draft202012Validator

    metadata = {"response_time_ms": 1.0, "cache_hits": [], "cache_misses": ["gex"], "computed_at": None,
                "cached": False, "degraded": False, "timestamp": "2026-12-07T06:00:00Z", "partial_sections": ["gex"]}
    Draft202012Validator(spec.doc["components"]["schemas"]["Metadata"]).validate(metadata)
