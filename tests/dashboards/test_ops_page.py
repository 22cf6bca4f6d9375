"""The operations page in a browser on demo data: every panel shows real figures (requests made
before, task runs recorded, a worker heartbeat, cached sections), an admin clears a data family and
sees it take effect, an analyst sees the page but its controls refuse, phone width fits.
Screenshots: artifacts/screenshots/ops_desktop.png, ops_phone.png."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from app import monitoring
from data_access import task_runs
from data_access.cache import sections
from layouts import ops_ids as ids
from tests.conftest import browser_sign_in, requires_chromedriver, shown_count, wait_for
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - a fixture

TASK = "tasks.dashboards.refresh_client_dashboard"


def make_history(dash_app, users) -> None:
    """Traffic, task runs, a beat pulse and a worker heartbeat, as a running system would leave them."""
    from tasks.heartbeat import beat_once

    client = signed_in(dash_app, "admin", users["admin"])
    for _ in range(2):
        assert client.get("/api/v1/dashboards/client?time_range=30d").status_code == 200
    for _ in range(3):
        client.get("/api/v1/health")
    assert client.get("/api/v1/dashboards/client?time_range=2w").status_code == 400
    started = time.time() - 3
    task_runs.record_start(TASK, "run-1", started)
    task_runs.record_end(TASK, "run-1", "success", started)
    task_runs.record_start(TASK, "run-2", started + 1)
    task_runs.record_end(TASK, "run-2", "failure", started + 1, error="OperationalError: database is locked")
    task_runs.record_beat_pulse()
    beat_once(sections.redis, "ops-test-worker")
    assert monitoring.flush()


def grid_text(driver, grid_id: str) -> str:
    return driver.find_element(By.ID, grid_id).text


def family_generation(family: str) -> int:
    return int(sections.redis.get(f"tb:gen:{family}") or 0)


def choose_family_and_clear(driver, family: str) -> None:
    wait_for(driver, lambda d: family in [o.get_attribute("value") for o in
                                          d.find_elements(By.CSS_SELECTOR, f"#{ids.CLEAR_FAMILY} option")])
    Select(driver.find_element(By.ID, ids.CLEAR_FAMILY)).select_by_value(family)
    driver.find_element(By.ID, ids.CLEAR_FAMILY_BUTTON).click()


def severe_errors(driver) -> list:
    """SEVERE console entries (a Content-Security-Policy block included: the page must work under it)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def too_wide(driver) -> list:
    return driver.execute_script(
        "return [...document.querySelectorAll('body *')]"
        ".filter(e => !e.closest('.ag-root-wrapper-body, .js-plotly-plot'))"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)")


@requires_chromedriver
def test_ops_page_shows_every_panel_and_only_an_admin_may_use_its_controls(dash_duo, demo_app, users,  # noqa: F811
                                                                           screenshot_dir):
    make_history(demo_app, users)
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1400, 1000)
    browser_sign_in(driver, base, "/ops", "admin", users["admin"])

    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.health_value("database")), "up"))
    assert driver.find_element(By.ID, ids.health_value("redis")).text == "up"
    assert driver.find_element(By.ID, ids.health_value("workers")).text == "1"
    assert driver.find_element(By.ID, ids.health_value("beat")).text == "alive"
    assert driver.find_element(By.ID, ids.health_value("cache")).text == "ok"
    assert "ms" in driver.find_element(By.ID, ids.health_sub("database")).text

    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.REQUESTS_GRID), "/api/v1/dashboards/client"))
    requests = grid_text(driver, ids.REQUESTS_GRID)
    assert "/api/v1/health" in requests and "/login" in requests
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.FAMILIES_GRID), "accounts"))
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.TASKS_GRID), "refresh_client_dashboard"))
    tasks = grid_text(driver, ids.TASKS_GRID)
    assert "failure" in tasks and "every 5 min" in tasks and "aggregate_strategy_performance" in tasks
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.RUNS_GRID), "database is locked"))
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.KEYS_GRID), "account_balances"))
    assert "fresh" in grid_text(driver, ids.KEYS_GRID)
    for chart in (ids.P95_CHART, ids.HIT_RATE_CHART):
        wait_for(driver, lambda d, c=chart: d.find_elements(By.CSS_SELECTOR, f"#{c} .main-svg"))
        wait_for(driver, lambda d, c=chart: d.find_elements(By.CSS_SELECTOR, f"#{c} .bars .point"))
        assert not shown_count(driver, f"#{chart} .annotation-text"), f"{chart} is empty"
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.freshness("requests")), "updated"))
    assert not shown_count(driver, ".alert-danger")

    # An admin clears the signals family: its generation goes up and its cached sections are superseded.
    before = family_generation("signals")
    choose_family_and_clear(driver, "signals")
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.CLEAR_RESULT), "Cleared signals"))
    assert family_generation("signals") == before + 1
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.KEYS_GRID), "superseded"))

    driver.set_window_size(1400, 2300)
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_dir / "ops_desktop.png"))
    errors = severe_errors(driver)
    assert errors == [], errors

    driver.set_window_size(375, 812)
    driver.refresh()
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.health_value("database")), "up"))
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.REQUESTS_GRID), "/api/v1/health"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.P95_CHART} .bars .point"))
    assert too_wide(driver) == [], f"wider than the phone screen: {too_wide(driver)}"
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    driver.save_screenshot(str(screenshot_dir / "ops_phone.png"))

    # An analyst sees the page, but its controls refuse.
    driver.set_window_size(1400, 1000)
    driver.get(base + "/logout")
    browser_sign_in(driver, base, "/ops", "analyst", users["analyst"])
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.health_value("database")), "up"))
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.REQUESTS_GRID), "/api/v1/dashboards/client"))
    before = family_generation("signals")
    choose_family_and_clear(driver, "signals")
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.CLEAR_RESULT), "Only admins may clear"))
    driver.find_element(By.ID, ids.REFRESH_DASHBOARDS).click()
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.REFRESH_RESULT), "Only admins may refresh"))
    time.sleep(0.5)
    assert family_generation("signals") == before
    errors = severe_errors(driver)
    assert errors == [], errors


def test_the_controls_refuse_anyone_but_an_admin_in_the_callback(demo_app, users):  # noqa: F811
    """Posting straight to Dash's callback endpoint (no browser, no hidden button) is refused too."""
    import json

    analyst = signed_in(demo_app, "analyst", users["analyst"])
    before = family_generation("signals")
    payload = {"output": "",
               "outputs": [{"id": ids.CLEAR_RESULT, "property": "children"},
                           {"id": ids.ACTION_DONE, "property": "data"}],
               "inputs": [{"id": ids.CLEAR_FAMILY_BUTTON, "property": "n_clicks", "value": 1}],
               "state": [{"id": ids.CLEAR_FAMILY, "property": "value", "value": "signals"},
                         {"id": ids.ACTION_DONE, "property": "data", "value": 0}],
               "changedPropIds": [f"{ids.CLEAR_FAMILY_BUTTON}.n_clicks"]}
    layout = analyst.get("/_dash-dependencies").get_json()
    outputs = [d["output"] for d in layout if ids.CLEAR_RESULT in d["output"]]
    assert outputs, "the clear-family callback is registered"
    payload["output"] = outputs[0]
    response = analyst.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Only admins may clear" in response.get_data(as_text=True)
    assert family_generation("signals") == before

    admin = signed_in(demo_app, "admin", users["admin"])
    response = admin.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 200 and "Cleared signals" in response.get_data(as_text=True)
    assert family_generation("signals") == before + 1
    assert monitoring.flush()
    endpoints = {row["endpoint"] for row in monitoring.request_stats(sections.redis, 300)}
    assert f"dash:{ids.CLEAR_RESULT}" in endpoints  # Dash callbacks are timed per output


def test_every_grid_has_a_csv_button_that_exports_it(demo_app, users):  # noqa: F811
    """Each AG Grid on the page has its CSV button beside it, and a click (posted to Dash's callback
    endpoint, as the browser does) tells that grid to export itself."""
    import dash_ag_grid as dag

    from layouts import ops as ops_layout
    from tests.dashboards.test_signal_sender_page import dash_call

    page = ops_layout.layout()
    grids = [c.id for c in page._traverse() if isinstance(c, dag.AgGrid)]
    buttons = {getattr(c, "id", None) for c in page._traverse()}
    assert ids.FAMILIES_GRID in grids and set(grids) == set(ids.GRIDS)
    analyst = signed_in(demo_app, "analyst", users["analyst"])
    for grid in grids:
        assert ids.csv_button(grid) in buttons, f"{grid} has no CSV button"
        clicked = dash_call(analyst, [(grid, "exportDataAsCsv")],
                            [{"id": ids.csv_button(grid), "property": "n_clicks", "value": 1}])
        assert clicked.status_code == 200, (grid, clicked.get_data(as_text=True)[:200])
        assert clicked.get_json()["response"][grid]["exportDataAsCsv"] is True, grid


@pytest.fixture(autouse=True)
def _settle():
    yield
    monitoring.flush()


def test_an_admin_refreshes_every_dashboard_from_the_page_and_an_analyst_may_not(demo_app, users):  # noqa: F811
    """The "Refresh every dashboard" button through Dash's callback endpoint: for an admin every
    dashboard is rebuilt (its cached sections stored anew); for an analyst nothing is."""
    import json

    from data_access.cache import KEY_PREFIX

    def stored_client_sections() -> dict[bytes, int]:
        return {key: sections.redis.pttl(key) for key in sections.redis.scan_iter(f"{KEY_PREFIX}s:account_balances:*")}

    payload = {"output": "",
               "outputs": [{"id": ids.REFRESH_RESULT, "property": "children"},
                           {"id": ids.ACTION_DONE, "property": "data"}],
               "inputs": [{"id": ids.REFRESH_DASHBOARDS, "property": "n_clicks", "value": 1}],
               "state": [{"id": ids.ACTION_DONE, "property": "data", "value": 0}],
               "changedPropIds": [f"{ids.REFRESH_DASHBOARDS}.n_clicks"]}
    analyst = signed_in(demo_app, "analyst", users["analyst"])
    [payload["output"]] = [d["output"] for d in analyst.get("/_dash-dependencies").get_json()
                           if ids.REFRESH_RESULT in d["output"]]
    refused = analyst.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    assert refused.status_code == 200 and "Only admins may refresh" in refused.get_data(as_text=True)
    assert stored_client_sections() == {}  # nothing was built

    admin = signed_in(demo_app, "admin", users["admin"])
    response = admin.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Refreshed client, signal sender, strategy, paper trading in" in text, text
    assert stored_client_sections(), "the client dashboard's sections are cached after the refresh"
    time.sleep(2.0)
    aged = stored_client_sections()  # two seconds closer to expiry
    admin.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    again = stored_client_sections()
    assert set(again) == set(aged) and all(again[key] > aged[key] + 1000 for key in aged)  # stored anew: a fresh TTL
