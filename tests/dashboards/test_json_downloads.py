"""Every dashboard page's "JSON" button, through Dash's real callback endpoint on demo data: the
page's own load callback builds the document for an allowed user, the download callback hands that
document back as a JSON file, and a role that may not see the dashboard gets nothing (204), even
when it sends a document."""

from __future__ import annotations

import importlib
import json

import pytest
from dash import dcc

from layouts import client_ids, paper_trading_ids, signal_sender_ids, strategies_ids
from tests.dashboards.test_client_page import signed_in
from tests.dashboards.test_signal_sender_page import OTHERS, OWN, PASSWORD, dash_call
from tests.dashboards.test_signal_sender_page import demo_app  # noqa: F401 - a fixture: asmith, jdoe, investor
from tests.dashboards.test_strategies_page import LOAD_INPUTS as STRATEGY_LOAD_INPUTS
from tests.dashboards.test_strategies_page import LOAD_OUTPUTS as STRATEGY_LOAD_OUTPUTS

INVESTOR = ("investor", "client-password-123")
DEVELOPER = ("asmith", PASSWORD)  # develops OWN, not OTHERS


def _value(component_id: str, prop: str, value) -> dict:
    return {"id": component_id, "property": prop, "value": value}


def load_client(client):
    return dash_call(client, [(client_ids.DOCUMENT, "data"), (client_ids.STATUS, "children")],
                     [_value(client_ids.TIME_RANGE, "value", "30d"), _value(client_ids.TICK, "n_intervals", None),
                      _value(client_ids.REFRESH_NOW, "n_clicks", None)])


def load_paper(client):
    return dash_call(client, [(paper_trading_ids.DOCUMENT, "data"), (paper_trading_ids.STATUS, "children")],
                     [_value(paper_trading_ids.TICK, "n_intervals", None),
                      _value(paper_trading_ids.REFRESH_NOW, "n_clicks", None)])


def load_sender(strategy: str):
    def load(client):
        ids = signal_sender_ids
        return dash_call(client, [(ids.DOCUMENT, "data"), (ids.STATUS, "children")],
                         [_value(ids.STRATEGY, "value", strategy), _value(ids.TIME_RANGE, "value", "30d"),
                          _value(ids.TICK, "n_intervals", None), _value(ids.REFRESH_NOW, "n_clicks", None)])
    return load


def load_strategies(client):
    return dash_call(client, STRATEGY_LOAD_OUTPUTS, STRATEGY_LOAD_INPUTS)


def download(client, ids, doc):
    return dash_call(client, [(ids.DOWNLOAD_JSON, "data")], [_value(ids.DOWNLOAD_JSON_BUTTON, "n_clicks", 1)],
                     [_value(ids.DOCUMENT, "data", doc)])


LAYOUTS = {"client": "layouts.client", "paper-trading": "layouts.paper_trading",
           "signal-sender": "layouts.signal_sender", "strategies": "layouts.strategies"}

# page ids, load callback, allowed user, refused user, expected file name, a field the document must have
PAGES = {
    "client": (client_ids, load_client, "analyst", DEVELOPER, "client-dashboard-30d.json", "overview"),
    "paper-trading": (paper_trading_ids, load_paper, "analyst", INVESTOR, "paper-trading-dashboard.json",
                      "open_positions"),
    "signal-sender": (signal_sender_ids, load_sender(OWN), DEVELOPER, ("jdoe", PASSWORD),
                      "signal-sender-crypto-trend-30d.json", "signal_history"),
    "strategies": (strategies_ids, load_strategies, "analyst", INVESTOR, "strategy-performance-30d.json",
                   "configurations"),
}


def sign_in(dash_app, users, who):
    username, password = (who, users[who]) if isinstance(who, str) else who
    return signed_in(dash_app, username, password)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_json_button_downloads_the_dashboard_for_an_allowed_user_and_nothing_for_others(demo_app, users,  # noqa: F811
                                                                                             page):
    ids, load, allowed, refused, filename, field = PAGES[page]
    layout = list(importlib.import_module(LAYOUTS[page]).layout()._traverse())
    assert any(getattr(c, "id", None) == ids.DOWNLOAD_JSON_BUTTON and c.children == "JSON" for c in layout)
    assert any(isinstance(c, dcc.Download) and c.id == ids.DOWNLOAD_JSON for c in layout)

    client = sign_in(demo_app, users, allowed)
    loaded = load(client)
    assert loaded.status_code == 200
    doc = loaded.get_json()["response"][ids.DOCUMENT]["data"]
    assert doc and doc[field], f"the {page} page built no document"

    answer = download(client, ids, doc)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    file = answer.get_json()["response"][ids.DOWNLOAD_JSON]["data"]
    assert file["filename"] == filename and file["type"] == "application/json"
    assert json.loads(file["content"]) == doc

    other = sign_in(demo_app, users, refused)
    assert download(other, ids, doc).status_code == 204  # PreventUpdate: no file


def test_a_developer_may_not_download_another_developers_strategy(demo_app):  # noqa: F811
    jdoe = signed_in(demo_app, "jdoe", PASSWORD)
    doc = load_sender(OTHERS)(jdoe).get_json()["response"][signal_sender_ids.DOCUMENT]["data"]
    assert doc["strategy_name"] == OTHERS
    assert download(jdoe, signal_sender_ids, doc).status_code == 200
    asmith = signed_in(demo_app, *DEVELOPER)
    assert download(asmith, signal_sender_ids, doc).status_code == 204
