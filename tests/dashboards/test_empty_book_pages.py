"""Every page over an empty book, in a browser: instead of empty charts it says what is missing and the
route or command that brings it in, with no callback error; then, with the examples/ files imported,
the same pages show that small book. Screenshots (light desktop, one at phone width, one dark) go to
artifacts/screenshots/empty-*.png and examples-*.png."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from layouts import client_ids, paper_trading_ids, playback_ids, signal_sender_ids, strategies_ids
from tests.app.test_empty_book import import_examples
from tests.conftest import browser_sign_in, build_app, requires_chromedriver, shown_count, wait_for

# path: (the empty state's title, a route or command it names, the page body it hides or None)
EMPTY_PAGES = {
    "/": ("The book is empty", "POST /api/v1/ingest/<entity>", None),
    "/client": ("No accounts yet", "tradeboard import accounts FILE", client_ids.BODY),
    "/signal-sender": ("No strategies yet", "POST /api/v1/ingest/strategies", signal_sender_ids.BODY),
    "/strategies": ("No backtests yet", "POST /api/v1/backtests", strategies_ids.BODY),
    "/paper-trading": ("No paper accounts yet", "examples/paper-accounts.json", paper_trading_ids.BODY),
    "/playback": ("No backtests to replay yet", "tradeboard backtest --symbol SYMBOL", playback_ids.BODY),
    "/ops": ("The book is empty", "tradeboard import ENTITY FILE", None),
}


@pytest.fixture
def empty_app(app_settings, redis_client):
    from data_access.migrate import upgrade

    upgrade(app_settings.DATABASE_URL)
    dash_app = build_app(app_settings)
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


def name_of(path: str) -> str:
    return path.strip("/") or "home"


def empty_state_text(driver) -> str:
    """The text of the empty state shown, or "" (read at once, without the driver's implicit wait)."""
    return driver.execute_script(
        "const shown = [...document.querySelectorAll('.tb-empty-state')]"
        ".filter(e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden');"
        "return shown.length ? shown[0].innerText : '';")


def assert_no_errors_shown(driver, where: str) -> None:
    assert not shown_count(driver, ".alert-danger"), where
    assert not shown_count(driver, ".dash-fe-error__title"), where  # Dash's callback error
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], (where, severe)


def wider_than_the_window(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('body *')]"
        ".filter(e => !e.closest('.ag-root-wrapper-body, .js-plotly-plot'))"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)")


def switch_theme(driver, theme: str) -> None:
    driver.find_element(By.CSS_SELECTOR, "#shell-theme-switch").click()
    wait_for(driver, lambda d: d.execute_script("return document.documentElement.getAttribute('data-bs-theme')")
             == theme)
    time.sleep(0.5)  # Bootstrap's colour transitions


@requires_chromedriver
def test_every_page_over_an_empty_book_says_what_is_missing_and_how_to_bring_it_in(dash_duo, empty_app, users,
                                                                                   screenshot_dir):
    dash_duo.start_server(empty_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1280, 900)
    browser_sign_in(driver, base, "/", "admin", users["admin"])

    for path, (title, route, body) in EMPTY_PAGES.items():
        driver.get(base + path)
        text = wait_for(driver, empty_state_text)
        assert title in text and route in text, (path, text)
        if body is not None:
            assert not driver.find_element(By.ID, body).is_displayed(), f"{path}: empty panels still drawn"
        assert_no_errors_shown(driver, path)
        driver.save_screenshot(str(screenshot_dir / f"empty-{name_of(path)}.png"))

    driver.get(base + "/strategies")  # the backtest form stays: the empty state points at it
    wait_for(driver, empty_state_text)
    assert driver.find_element(By.ID, strategies_ids.FORM_KIND).is_displayed()
    switch_theme(driver, "dark")
    driver.get(base + "/client")
    wait_for(driver, empty_state_text)
    time.sleep(0.3)
    driver.save_screenshot(str(screenshot_dir / "empty-client-dark.png"))
    switch_theme(driver, "light")

    driver.set_window_size(390, 844)
    driver.get(base + "/")
    wait_for(driver, empty_state_text)
    assert wider_than_the_window(driver) == [], "wider than the phone screen"
    driver.save_screenshot(str(screenshot_dir / "empty-home-phone.png"))
    assert_no_errors_shown(driver, "phone")


@requires_chromedriver
def test_the_pages_show_the_examples_book_once_it_is_imported(dash_duo, empty_app, users, screenshot_dir):
    import_examples(empty_app)
    dash_duo.start_server(empty_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1280, 900)
    browser_sign_in(driver, base, "/client", "admin", users["admin"])

    wait_for(driver, lambda d: d.find_element(By.ID, client_ids.kpi("total_aum")).text == "$2.90M")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{client_ids.ACCOUNTS_GRID} .ag-row"))
    for path in ("/client", "/signal-sender", "/paper-trading"):  # the examples hold no backtest
        if path != "/client":
            driver.get(base + path)
        time.sleep(2)  # every panel's callbacks
        assert empty_state_text(driver) == "", (path, empty_state_text(driver))
        assert_no_errors_shown(driver, path)
        driver.set_window_size(1280, 2000)
        driver.save_screenshot(str(screenshot_dir / f"examples-{name_of(path)}.png"))
        driver.set_window_size(1280, 900)
