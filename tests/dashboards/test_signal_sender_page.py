"""The signal-sender dashboard over HTTP and in a browser, on demo data: the JSON API (roles,
a developer limited to their own strategies, parameters, paging), the page's Dash callbacks refusing
another developer's strategy, and the page itself (every panel renders, the history grid pages on
the server, no console errors). Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from app.auth import create_user, set_password
from layouts import signal_sender_ids as ids
from tests.conftest import browser_sign_in, demo_app_on, requires_chromedriver, shown_count, wait_for
from tests.dashboards.test_client_page import signed_in

API = "/api/v1/dashboards/signal-sender"
OWN, OTHERS = "Crypto Trend", "SPX Momentum"  # asmith's, jdoe's
PICK = "Small Cap Breakout"  # picked in the browser
PASSWORD = "developer-password-123"


@pytest.fixture
def demo_app(app_settings, redis_client):
    def add_users(session):
        set_password(session, "asmith", PASSWORD)
        set_password(session, "jdoe", PASSWORD)
        create_user(session, "investor", "client", password="client-password-123")

    yield from demo_app_on(app_settings, add_users)


def test_api_serves_a_strategy_document_and_then_from_cache(demo_app, users):
    client = signed_in(demo_app, "analyst", users["analyst"])
    cold = client.get(f"{API}?strategy_name={OWN}&time_range=all")
    assert cold.status_code == 200, cold.get_json()
    doc = cold.get_json()
    assert doc["strategy_name"] == OWN and doc["developer_name"] == "Ada Smith" and doc["time_range"] == "all"
    perf = doc["performance"]
    assert set(perf) >= {"total_signals_sent", "signals_filled", "signals_rejected", "signals_cancelled",
                         "signals_pending", "fill_rate", "total_pnl", "win_rate", "avg_win", "avg_loss",
                         "profit_factor", "sharpe_ratio"}
    assert perf["total_signals_sent"] == sum(perf[k] for k in ("signals_filled", "signals_rejected",
                                                                 "signals_cancelled", "signals_pending"))
    assert 0 < len(doc["signal_history"]) <= 50 and doc["rejection_reasons"] and doc["latency_histogram"]["counts"]
    counts = [r["count"] for r in doc["rejection_reasons"]]
    assert counts == sorted(counts, reverse=True)
    assert set(doc["lag_metrics"]) == {f"{k}_signal_to_fill_seconds" for k in ("avg", "median", "p95", "p99", "max")}
    assert "errors" not in doc and doc["metadata"]["cache_misses"]
    warm = client.get(f"{API}?strategy_name={OWN}&time_range=all").get_json()
    assert warm["metadata"]["cached"] is True and warm["performance"] == perf
    forced = client.get(f"{API}?strategy_name={OWN}&time_range=all&force_refresh=true").get_json()
    assert forced["metadata"]["cache_hits"] == []


def test_api_parameters_and_errors(demo_app, users):
    client = signed_in(demo_app, "admin", users["admin"])
    missing = client.get(API)
    assert missing.status_code == 400 and missing.get_json()["error"]["details"]["parameter"] == "strategy_name"
    unknown = client.get(f"{API}?strategy_name=Nope")
    assert unknown.status_code == 404 and "'Nope'" in unknown.get_json()["error"]["message"]
    assert client.get(f"{API}?strategy_name={OWN}&time_range=2w").status_code == 400
    assert client.get(f"{API}?strategy_name={OWN}&force_refresh=maybe").status_code == 400
    assert client.get(f"{API}/signals?strategy_name=Nope").status_code == 404
    bad_sort = client.get(f"{API}/signals?strategy_name={OWN}&sort=password_hash")
    assert bad_sort.status_code == 400 and "sent_at" in bad_sort.get_json()["error"]["details"]["sortable"]
    assert client.get(f"{API}/signals?strategy_name={OWN}&start=10&end=5").status_code == 400


def test_api_needs_credentials_and_a_role(demo_app, users):
    assert demo_app.server.test_client().get(f"{API}?strategy_name={OWN}").status_code == 401
    client_user = signed_in(demo_app, "investor", "client-password-123")
    assert client_user.get(f"{API}?strategy_name={OWN}").status_code == 403


def test_a_developer_reads_only_their_own_strategies_through_the_api(demo_app):
    asmith = signed_in(demo_app, "asmith", PASSWORD)
    assert asmith.get(f"{API}?strategy_name={OWN}").status_code == 200
    assert asmith.get(f"{API}/signals?strategy_name={OWN}").status_code == 200
    for url in (f"{API}?strategy_name={OTHERS}", f"{API}/signals?strategy_name={OTHERS}"):
        denied = asmith.get(url)
        assert denied.status_code == 403 and denied.mimetype == "application/json"
        assert OTHERS in denied.get_json()["error"]["message"]


def test_signal_paging_over_the_api(demo_app, users):
    client = signed_in(demo_app, "admin", users["admin"])
    first = client.get(f"{API}/signals?strategy_name={OWN}&start=0&end=20&sort=sent_at&dir=desc").get_json()
    second = client.get(f"{API}/signals?strategy_name={OWN}&start=20&end=40&sort=sent_at&dir=desc").get_json()
    assert len(first["rows"]) == 20 and first["row_count"] == second["row_count"] > 40
    assert first["rows"][-1]["sent_at"] >= second["rows"][0]["sent_at"]
    assert not {r["signal_id"] for r in first["rows"]} & {r["signal_id"] for r in second["rows"]}
    by_symbol = client.get(f"{API}/signals?strategy_name={OWN}&start=0&end=50&symbol=btc").get_json()
    assert by_symbol["row_count"] > 0 and {r["symbol"] for r in by_symbol["rows"]} == {"BTCUSD"}


def dash_call(client, outputs: list[tuple[str, str]], inputs: list[dict], state: list[dict] | None = None):
    """POST one callback to Dash's endpoint, as the browser does."""
    output = "...".join(f"{i}.{p}" for i, p in outputs)
    payload = {
        "output": f"..{output}.." if len(outputs) > 1 else output,
        "outputs": [{"id": i, "property": p} for i, p in outputs] if len(outputs) > 1 else
                   {"id": outputs[0][0], "property": outputs[0][1]},
        "inputs": inputs,
        "state": state or [],
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
    }
    response = client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    return response


def registered_call(client, output_id: str, inputs: list[dict], state: list | None = None):
    """POST the callback whose outputs include ``output_id``, with its outputs exactly as the app
    registered them (``allow_duplicate`` outputs carry a hash Dash adds)."""
    dependencies = client.get("/_dash-dependencies").get_json()
    [output] = [d["output"] for d in dependencies if any(o.split(".")[0] == output_id
                                                          for o in d["output"].strip(".").split("..."))]
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1))) for o in output.strip(".").split("...")]
    payload = {"output": output, "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
               "state": state or [], "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    return client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")


def _load(client, strategy):
    return dash_call(client, [(ids.DOCUMENT, "data"), (ids.STATUS, "children")], [
        {"id": ids.STRATEGY, "property": "value", "value": strategy},
        {"id": ids.TIME_RANGE, "property": "value", "value": "30d"},
        {"id": ids.TICK, "property": "n_intervals", "value": None},
        {"id": ids.REFRESH_NOW, "property": "n_clicks", "value": None},
    ])


def _rows(client, strategy):
    return dash_call(client, [(ids.HISTORY_GRID, "getRowsResponse")],
                     [{"id": ids.HISTORY_GRID, "property": "getRowsRequest",
                       "value": {"startRow": 0, "endRow": 50, "sortModel": [], "filterModel": {}}}],
                     [{"id": ids.STRATEGY, "property": "value", "value": strategy}])


def test_the_page_callbacks_refuse_another_developers_strategy(demo_app):
    asmith = signed_in(demo_app, "asmith", PASSWORD)
    own = _load(asmith, OWN)
    assert own.status_code == 200
    doc = own.get_json()["response"][ids.DOCUMENT]["data"]
    assert doc["strategy_name"] == OWN
    denied = _load(asmith, OTHERS).get_json()["response"]
    assert denied[ids.DOCUMENT]["data"] is None and "may not read" in json.dumps(denied[ids.STATUS])

    rows = _rows(asmith, OWN).get_json()["response"][ids.HISTORY_GRID]["getRowsResponse"]
    assert rows["rowCount"] > 0 and len(rows["rowData"]) == 50
    other_rows = _rows(asmith, OTHERS).get_json()["response"][ids.HISTORY_GRID]["getRowsResponse"]
    assert other_rows == {"rowData": [], "rowCount": 0}

    options = dash_call(asmith, [(ids.STRATEGY, "options"), (ids.STRATEGY, "value")],
                        [{"id": ids.INIT, "property": "data", "value": {"strategy": OTHERS}}]).get_json()["response"]
    assert [o["value"] for o in options[ids.STRATEGY]["options"]] == [OWN, "Tech Mean Reversion"]
    assert options[ids.STRATEGY]["value"] == OWN  # the asked-for strategy is not theirs


@requires_chromedriver
def test_signal_sender_page_renders_every_panel_and_pages_the_history(dash_duo, demo_app, users, screenshot_dir):
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1400, 1000)
    browser_sign_in(driver, base, "/signal-sender", "analyst", users["analyst"])

    wait_for(driver, lambda d: d.find_element(By.ID, ids.kpi("total_signals_sent")).text not in ("", "—"))
    # pick a strategy in the selector
    driver.find_element(By.CSS_SELECTOR, f"#{ids.STRATEGY}").click()
    option = wait_for(driver, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option, [role='option']")
                                      if o.text.strip() == PICK])
    option[0].click()
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.DEVELOPER), PICK))
    wait_for(driver, lambda d: d.find_element(By.ID, ids.kpi("fill_rate")).text.endswith("%"))
    for key, _ in ids.KPI_CARDS:
        assert driver.find_element(By.ID, ids.kpi(key)).text not in ("",), key
    for chart in (ids.PNL_CHART, ids.LATENCY_CHART, ids.REJECTIONS_CHART):
        wait_for(driver, lambda d, c=chart: d.find_elements(By.CSS_SELECTOR, f"#{c} .main-svg"))
        wait_for(driver, lambda d, c=chart: d.execute_script(
            f"const g = document.getElementById('{c}').querySelector('.js-plotly-plot');"
            "return g && g.data && g.data.length > 0"))
    shapes = driver.execute_script(f"return document.getElementById('{ids.LATENCY_CHART}')"
                                   ".querySelector('.js-plotly-plot').layout.shapes.length")
    assert shapes == 3  # p50, p95, p99
    for grid in (ids.HISTORY_GRID, ids.POSITIONS_GRID):
        wait_for(driver, lambda d, g=grid: d.find_elements(By.CSS_SELECTOR, f"#{g} .ag-row .ag-cell"))
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.freshness("history")), "updated"))
    assert not shown_count(driver, ".alert-danger, .alert-warning")
    driver.save_screenshot(str(screenshot_dir / "signal-sender-desktop.png"))

    # page the history: scrolling far down makes the grid ask the server for a later block
    first_id = driver.execute_script(f"return dash_ag_grid.getApi('{ids.HISTORY_GRID}').getDisplayedRowAtIndex(0).data.signal_id")
    driver.execute_script(f"dash_ag_grid.getApi('{ids.HISTORY_GRID}').ensureIndexVisible(120, 'top')")
    wait_for(driver, lambda d: d.execute_script(
        f"const n = dash_ag_grid.getApi('{ids.HISTORY_GRID}').getDisplayedRowAtIndex(120);"
        "return n && n.data && n.data.signal_id"))
    later_id = driver.execute_script(
        f"return dash_ag_grid.getApi('{ids.HISTORY_GRID}').getDisplayedRowAtIndex(120).data.signal_id")
    assert later_id != first_id
    # sort by symbol on the server
    driver.execute_script(f"dash_ag_grid.getApi('{ids.HISTORY_GRID}').applyColumnState("
                          "{state: [{colId: 'symbol', sort: 'asc'}], defaultState: {sort: null}})")
    wait_for(driver, lambda d: d.execute_script(
        f"const n = dash_ag_grid.getApi('{ids.HISTORY_GRID}').getDisplayedRowAtIndex(0);"
        "return n && n.data && n.data.symbol") == "IWM")  # IWM and TSLA; newest first is mixed

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors

    driver.set_window_size(375, 812)
    driver.get(f"{base}/signal-sender?strategy={PICK.replace(' ', '%20')}")  # a link straight to one strategy
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.DEVELOPER), PICK))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.PNL_CHART} .main-svg"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.HISTORY_GRID} .ag-row .ag-cell"))
    time.sleep(0.5)
    too_wide = driver.execute_script(
        "return [...document.querySelectorAll('body *')]"
        ".filter(e => !e.closest('.ag-root-wrapper-body, .js-plotly-plot'))"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)")
    assert too_wide == [], f"wider than the phone screen: {too_wide}"
    driver.save_screenshot(str(screenshot_dir / "signal-sender-phone.png"))
    driver.set_window_size(375, 2600)
    driver.save_screenshot(str(screenshot_dir / "signal-sender-phone-full.png"))
    driver.set_window_size(1400, 2200)
    driver.refresh()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.HISTORY_GRID} .ag-row .ag-cell"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.LATENCY_CHART} .main-svg"))
    time.sleep(1)
    driver.save_screenshot(str(screenshot_dir / "signal-sender-desktop-full.png"))


def test_history_csv_comes_from_the_server_in_the_grids_filter_and_only_for_readable_strategies(demo_app):
    asmith = signed_in(demo_app, "asmith", PASSWORD)

    def csv_for(strategy):
        return dash_call(asmith, [(ids.HISTORY_CSV, "data")],
                         [{"id": ids.csv_button(ids.HISTORY_GRID), "property": "n_clicks", "value": 1}],
                         [{"id": ids.HISTORY_GRID, "property": "getRowsRequest",
                           "value": {"startRow": 0, "endRow": 50, "sortModel": [{"colId": "sent_at", "sort": "asc"}],
                                     "filterModel": {"symbol": {"filterType": "text", "type": "equals",
                                                                "filter": "BTCUSD"}}}},
                          {"id": ids.STRATEGY, "property": "value", "value": strategy}])

    download = csv_for(OWN).get_json()["response"][ids.HISTORY_CSV]["data"]
    lines = download["content"].splitlines()
    assert download["filename"] == "signal-history-crypto-trend.csv"
    assert lines[0].startswith("signal_id,sent_at,symbol,side") and len(lines) > 51  # more than one grid block
    assert {line.split(",")[2] for line in lines[1:]} == {"BTCUSD"}
    sent = [line.split(",")[1] for line in lines[1:]]
    assert sent == sorted(sent)
    assert csv_for(OTHERS).status_code == 204  # nothing for another developer's strategy
