"""The paper-trading page on demo data: only admins and analysts get its document through the page
callback, a partly failed section shows its data and a warning, and in a browser every panel
renders real values with no console errors, at desktop and phone width. Screenshots go to
artifacts/screenshots/."""

from __future__ import annotations

import json
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from callbacks import paper_trading as callbacks
from layouts import paper_trading_ids as ids
from tests.conftest import browser_sign_in, requires_chromedriver, shown_count, wait_for
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - demo_app is a fixture
from tests.dashboards.test_signal_sender_page import dash_call

STATUS_TEXT = ("HEALTHY", "DEGRADED", "UNHEALTHY")


def _load(client):
    return dash_call(client, [(ids.DOCUMENT, "data"), (ids.STATUS, "children")], [
        {"id": ids.TICK, "property": "n_intervals", "value": None},
        {"id": ids.REFRESH_NOW, "property": "n_clicks", "value": None},
    ])


def test_the_page_callback_serves_admins_and_analysts_and_nothing_to_a_developer(demo_app, users):
    analyst = _load(signed_in(demo_app, "analyst", users["analyst"]))
    assert analyst.status_code == 200
    doc = analyst.get_json()["response"][ids.DOCUMENT]["data"]
    assert doc["overview"]["active_trades"] > 0 and doc["open_positions"] and doc["shadow_summary"]["count"] > 0
    assert doc["health"]["status"] in ("healthy", "degraded")

    response = _load(signed_in(demo_app, "dev", "developer-password-123"))
    assert response.status_code == 200
    denied = response.get_json()["response"]
    assert denied[ids.DOCUMENT]["data"] is None
    assert "may not see the paper-trading dashboard" in json.dumps(denied[ids.STATUS])
    assert "total_pnl" not in json.dumps(denied)

    # the JSON download refuses a developer even when handed a document
    download = dash_call(signed_in(demo_app, "dev", "developer-password-123"), [(ids.DOWNLOAD_JSON, "data")],
                         [{"id": ids.DOWNLOAD_JSON_BUTTON, "property": "n_clicks", "value": 1}],
                         [{"id": ids.DOCUMENT, "property": "data", "value": doc}])
    assert download.status_code == 204


def test_a_partly_failed_section_shows_its_rows_and_a_warning_and_a_failed_one_an_error():
    doc = {"open_positions": [{"symbol": "XYZ", "current_price": None}], "recent_trades": None,
           "errors": {"open_positions": "no price for XYZ (XYZ: timeout)", "recent_trades": "database is locked"}}
    partial = callbacks.section_alert(doc, "open_positions")
    assert partial.color == "warning" and "no price for XYZ" in partial.children
    failed = callbacks.section_alert(doc, "recent_trades")
    assert failed.color == "danger" and "database is locked" in failed.children
    assert callbacks.section_alert(doc, "top_performers") is None


def test_stale_gex_says_how_old_it_is_and_the_shadow_line_prices_not_trading():
    cards = json.dumps(callbacks.gex_body([{"symbol": "SPY", "gamma_exposure": -1.5e9, "call_wall": 600.0,
                                            "put_wall": 580.0, "stale": True, "age_seconds": 240.0}]),
                       default=lambda c: c.to_plotly_json())
    assert "stale, 4 min old" in cards and "-$1.50B" in cards
    line = json.dumps(callbacks.shadow_summary({"count": 3, "window_days": 5, "by_status": {"REJECTED": 3},
                                                "unrealized_pnl": 1234.5}, [{}, {}, {}]),
                      default=lambda c: c.to_plotly_json())
    assert "3 missed entries in the last 5 days would be " in line and "+$1,234.50" in line


def _save_in_parts(driver, directory, name: str, width: int, height: int) -> None:
    """The page a window at a time (readable pictures beside the full-length one)."""
    driver.set_window_size(width, height)
    time.sleep(0.3)
    total = driver.execute_script("return document.documentElement.scrollHeight")
    step = driver.execute_script("return window.innerHeight") - 60
    for part, top in enumerate(range(0, total, step), start=1):
        driver.execute_script(f"window.scrollTo(0, {top})")
        time.sleep(0.15)
        driver.save_screenshot(str(directory / f"{name}_part{part}.png"))
    driver.execute_script("window.scrollTo(0, 0)")


def _panels_rendered(driver) -> None:
    wait_for(driver, lambda d: d.find_element(By.ID, ids.kpi("total_pnl")).text[:2] in ("+$", "-$"))
    for key, _ in ids.KPI_CARDS:
        assert driver.find_element(By.ID, ids.kpi(key)).text not in ("", "—"), key
    for grid in ids.GRIDS:
        wait_for(driver, lambda d, g=grid: d.find_elements(By.CSS_SELECTOR, f"#{g} .ag-row .ag-cell"))
    for chart in (ids.PNL_CHART, ids.RETURNS_CHART):
        wait_for(driver, lambda d, c=chart: d.execute_script(
            f"const g = document.getElementById('{c}').querySelector('.js-plotly-plot');"
            "return g && g.data && g.data.length > 0 && g.data[0].x.length > 10"))
        assert not shown_count(driver, f"#{chart} .annotation-text"), f"{chart} is empty"


@requires_chromedriver
def test_paper_trading_page_renders_every_panel_at_desktop_and_phone_width(dash_duo, demo_app, users, screenshot_dir):
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1400, 1000)
    browser_sign_in(driver, base, "/paper-trading", "admin", users["admin"])

    _panels_rendered(driver)
    assert driver.find_element(By.ID, f"{ids.HEALTH}-status").text in STATUS_TEXT
    assert driver.find_element(By.ID, f"{ids.HEALTH}-database").text.endswith(" ms")
    assert driver.find_element(By.ID, f"{ids.GEX}-SPY-gamma").text.lstrip("-").startswith("$")
    assert driver.find_element(By.ID, ids.metric("win_rate")).text.endswith("%")
    assert driver.find_element(By.ID, ids.metric("max_drawdown_pct")).text.endswith("%")
    assert "would be" in driver.find_element(By.ID, ids.SHADOW_SUMMARY).text
    assert "unrealized" in driver.find_element(By.ID, ids.POSITIONS_SUMMARY).text
    for panel in ids.PANELS:
        wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.freshness(panel)), "updated"))
    assert not shown_count(driver, ".alert-danger")
    # the nav link is there, and the real-time panels refresh every 5 s by default
    assert driver.find_elements(By.CSS_SELECTOR, ".tb-nav a[href='/paper-trading'].active")
    assert driver.find_element(By.ID, ids.REFRESH_EVERY).get_attribute("value") == "5"

    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, height + 140)  # the whole page in one picture
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_dir / "paper_trading_desktop.png"))
    _save_in_parts(driver, screenshot_dir, "paper_trading_desktop", 1400, 1000)

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], [e["message"][-300:] for e in errors]

    driver.set_window_size(375, 812)
    driver.refresh()
    _panels_rendered(driver)
    time.sleep(0.5)
    too_wide = driver.execute_script(
        "return [...document.querySelectorAll('body *')]"
        ".filter(e => !e.closest('.ag-root-wrapper-body, .js-plotly-plot'))"  # grids and charts scroll/clip inside
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)")
    assert too_wide == [], f"wider than the phone screen: {too_wide}"
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 375
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(375, height + 140)
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_dir / "paper_trading_phone.png"))
    _save_in_parts(driver, screenshot_dir, "paper_trading_phone", 375, 812)
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], [e["message"][-300:] for e in errors]
