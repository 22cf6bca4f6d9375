"""The client dashboard over HTTP and in a browser, on demo data: the JSON API (auth, roles,
parameters, cache metadata) and the page (every panel renders, time range and refresh interval
change, no console errors). Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from app.auth import create_user
from data_access.cache import sections
from data_access.models import Side, Signal, SignalStatus, Strategy
from layouts import client_ids as ids
from tests.conftest import browser_sign_in, build_app, demo_app_on, demo_seeded, log_in, requires_chromedriver, shown_count, wait_for


@pytest.fixture
def demo_app(app_settings, redis_client):
    yield from demo_app_on(app_settings, lambda session: create_user(session, "dev", "developer",
                                                                     password="developer-password-123"))


def write_signal(dash_app, symbol: str) -> None:
    """A new signal arrives (and, like every write, bumps its data family's generation)."""
    with dash_app.server.extensions["tradeboard"].session() as session:
        strategy = session.query(Strategy).first()
        session.add(Signal(signal_id=f"sig_test_{symbol}", strategy_id=strategy.id, symbol=symbol, side=Side.BUY,
                           quantity=1, received_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1),
                           status=SignalStatus.PENDING))
    sections.bump("signals")


def signed_in(dash_app, username, password):
    client = dash_app.server.test_client()
    assert log_in(client, username, password).status_code == 303
    return client


def test_api_serves_the_client_dashboard_and_then_from_cache(demo_app, users):
    client = signed_in(demo_app, "admin", users["admin"])
    cold = client.get("/api/v1/dashboards/client?time_range=30d")
    assert cold.status_code == 200 and cold.mimetype == "application/json"
    doc = cold.get_json()
    assert doc["fund_name"] and doc["time_range"] == "30d"
    assert set(doc["overview"]) >= {"total_aum", "total_equity", "total_pnl", "total_pnl_pct", "margin_utilization",
                                    "number_of_strategies", "open_positions"}
    assert len(doc["accounts"]) == 4 and doc["strategy_performance"] and doc["recent_signals"]
    assert set(doc["risk_metrics"]) >= {"max_drawdown", "var_95", "portfolio_beta", "cvar_95", "var_95_parametric"}
    assert doc["metadata"]["cache_misses"] and "errors" not in doc
    warm = client.get("/api/v1/dashboards/client?time_range=30d").get_json()
    assert warm["metadata"]["cached"] is True and warm["overview"] == doc["overview"]
    forced = client.get("/api/v1/dashboards/client?time_range=30d&force_refresh=true").get_json()
    assert forced["metadata"]["cache_hits"] == []


def test_api_rejects_bad_parameters_naming_the_valid_values(demo_app, users):
    client = signed_in(demo_app, "admin", users["admin"])
    response = client.get("/api/v1/dashboards/client?time_range=2w")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["valid"] == ["7d", "30d", "90d", "1y", "all"]
    assert client.get("/api/v1/dashboards/client?force_refresh=maybe").status_code == 400


def test_api_needs_credentials_and_a_role_that_may_see_the_fund(demo_app, users):
    assert demo_app.server.test_client().get("/api/v1/dashboards/client").status_code == 401
    developer = signed_in(demo_app, "dev", "developer-password-123")
    assert developer.get("/api/v1/dashboards/client").status_code == 403


def test_the_page_callback_refuses_a_developer(demo_app, users):
    """Straight to Dash's callback endpoint: a developer gets no fund document, an analyst does."""
    from tests.dashboards.test_signal_sender_page import dash_call  # (that module imports this one)

    def load(client):
        return dash_call(client, [(ids.DOCUMENT, "data"), (ids.STATUS, "children")], [
            {"id": ids.TIME_RANGE, "property": "value", "value": "30d"},
            {"id": ids.TICK, "property": "n_intervals", "value": None},
            {"id": ids.REFRESH_NOW, "property": "n_clicks", "value": None},
        ])

    shown = load(signed_in(demo_app, "analyst", users["analyst"])).get_json()["response"]
    assert shown[ids.DOCUMENT]["data"]["overview"]["total_aum"] > 0
    response = load(signed_in(demo_app, "dev", "developer-password-123"))
    assert response.status_code == 200
    denied = response.get_json()["response"]
    assert denied[ids.DOCUMENT]["data"] is None
    assert "may not see the client dashboard" in json.dumps(denied[ids.STATUS])
    assert "total_aum" not in json.dumps(denied) and "account_name" not in json.dumps(denied)


@requires_chromedriver
def test_client_page_renders_every_panel_and_reacts_to_its_controls(dash_duo, demo_app, users, screenshot_dir):
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1400, 1000)
    browser_sign_in(driver, base, "/client", "analyst", users["analyst"])

    wait_for(driver, lambda d: d.find_element(By.ID, ids.kpi("total_aum")).text.startswith("$"))
    for key, _ in ids.KPI_CARDS:
        assert driver.find_element(By.ID, ids.kpi(key)).text not in ("", "—"), key
    for grid in (ids.ACCOUNTS_GRID, ids.STRATEGIES_GRID, ids.SIGNALS_GRID):
        wait_for(driver, lambda d, g=grid: d.find_elements(By.CSS_SELECTOR, f"#{g} .ag-row"))
    for chart in (ids.EQUITY_CHART, ids.ALLOCATION_CHART, ids.RETURNS_CHART):
        wait_for(driver, lambda d, c=chart: d.find_elements(By.CSS_SELECTOR, f"#{c} .main-svg"))
        assert not shown_count(driver, f"#{chart} .annotation-text"), f"{chart} is empty"
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.freshness("equity")), "updated"))
    assert driver.find_element(By.ID, ids.risk("max_drawdown")).text.endswith("%")
    assert not shown_count(driver, ".alert-danger")
    driver.save_screenshot(str(screenshot_dir / "client-desktop.png"))
    driver.set_window_size(1400, 2000)
    driver.save_screenshot(str(screenshot_dir / "client-desktop-full.png"))
    driver.find_element(By.CSS_SELECTOR, "#shell-theme-switch").click()
    wait_for(driver, lambda d: d.execute_script("return document.documentElement.getAttribute('data-bs-theme')") == "dark")
    time.sleep(0.5)  # let Bootstrap's colour transitions finish before the picture
    driver.save_screenshot(str(screenshot_dir / "client-desktop-full-dark.png"))
    driver.find_element(By.CSS_SELECTOR, "#shell-theme-switch").click()
    driver.set_window_size(1400, 1000)

    # Time range: the equity curve gets shorter; the risk panel follows.
    points_90d = driver.execute_script(f"return document.getElementById('{ids.EQUITY_CHART}')"
                                       ".querySelector('.js-plotly-plot').data[0].x.length")
    driver.find_element(By.CSS_SELECTOR, f"label[for='_dbcprivate_radioitems_{ids.TIME_RANGE}_input_7d']").click()
    wait_for(driver, lambda d: d.execute_script(f"return document.getElementById('{ids.EQUITY_CHART}')"
                                             ".querySelector('.js-plotly-plot').data[0].x.length") < points_90d)
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.risk("var_95")), "—"))  # < 20 returns in 7 days

    # Refresh interval: at 5 s a newly written signal shows up with no click; with Off it does not.
    Select(driver.find_element(By.ID, ids.REFRESH_EVERY)).select_by_value("5")
    write_signal(demo_app, "ZZAUTO")
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.SIGNALS_GRID), "ZZAUTO"), timeout=15)
    Select(driver.find_element(By.ID, ids.REFRESH_EVERY)).select_by_value("0")
    time.sleep(1)
    write_signal(demo_app, "ZZOFF")
    time.sleep(7)
    assert "ZZOFF" not in driver.find_element(By.ID, ids.SIGNALS_GRID).text

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors

    driver.set_window_size(375, 812)
    driver.refresh()
    wait_for(driver, lambda d: d.find_element(By.ID, ids.kpi("total_aum")).text.startswith("$"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.EQUITY_CHART} .main-svg"))
    too_wide = driver.execute_script(
        "return [...document.querySelectorAll('body *')]"
        ".filter(e => !e.closest('.ag-root-wrapper-body, .js-plotly-plot'))"  # grids and charts scroll/clip inside
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)")
    assert too_wide == [], f"wider than the phone screen: {too_wide}"
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    driver.save_screenshot(str(screenshot_dir / "client-phone.png"))
    driver.set_window_size(375, 2400)
    driver.save_screenshot(str(screenshot_dir / "client-phone-full.png"))


def test_dashboard_is_served_while_redis_is_down_and_cached_again_when_it_returns(app_settings, users, tmp_path):
    import dataclasses

    from app.services import PrivateRedis

    redis_server = PrivateRedis(tmp_path / "own-redis").start()
    try:
        settings = dataclasses.replace(app_settings, REDIS_URL=redis_server.url, CACHE_RETRY_SECONDS=0.3)
        demo_seeded(settings.DATABASE_URL)
        client = signed_in(build_app(settings), "admin", users["admin"])
        url = "/api/v1/dashboards/client?time_range=30d"
        assert client.get(url).get_json()["metadata"]["cached"] is False
        assert client.get(url).get_json()["metadata"]["cached"] is True

        redis_server.stop()
        for _ in range(3):
            response = client.get(url)
            assert response.status_code == 200
            doc = response.get_json()
            assert doc["metadata"]["degraded"] is True and doc["overview"]["total_aum"] > 0 and "errors" not in doc
        health = client.get("/api/v1/health").get_json()
        assert health["status"] == "degraded" and health["redis"]["ok"] is False, health

        redis_server.start()
        deadline = time.monotonic() + 10
        while True:
            metadata = client.get(url).get_json()["metadata"]
            if metadata["cached"] and not metadata["degraded"]:
                break
            assert time.monotonic() < deadline, f"caching did not resume: {metadata}"
            time.sleep(0.2)
    finally:
        redis_server.stop()
