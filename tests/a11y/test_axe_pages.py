"""Every page checked by axe-core in headless Chromium, in the light and the dark theme, at desktop
and phone width, on the demo book: no critical, serious or moderate violation (what is left out,
and why, is in tests/a11y/axe.py and docs/accessibility.md)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.a11y.axe import describe, requires_axe, run_axe
from tests.conftest import browser_sign_in, demo_app_on, requires_chromedriver, wait_for
from tests.dashboards.test_empty_book_pages import switch_theme

pytestmark = [requires_chromedriver, requires_axe]

PAGES = ["/", "/client", "/signal-sender", "/paper-trading", "/strategies", "/playback", "/import", "/ops"]
DESKTOP, PHONE = (1280, 1000), (390, 900)
FAILING = ("critical", "serious", "moderate")


@pytest.fixture
def demo_app(app_settings, redis_client):
    yield from demo_app_on(app_settings, lambda session: None)


def drawn(driver) -> bool:
    """The page's layout is in and no callback is still running."""
    return driver.execute_script(
        "return !!document.querySelector('main h1') && !document.querySelector('[data-dash-is-loading=\"true\"]')")


# resolves once the page has gone ``quiet`` ms without an element added or removed (charts and grids draw after their
# callbacks), or after ``most`` ms
QUIET = """
const [quiet, most, done] = arguments;
let timer = null;
const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(finish, quiet); });
const finish = () => { observer.disconnect(); clearTimeout(timer); clearTimeout(cap); done(true); };
const cap = setTimeout(finish, most);
observer.observe(document.body, {subtree: true, childList: true});
timer = setTimeout(finish, quiet);"""


def settled(driver, quiet_ms: int = 300, most_ms: int = 5000) -> None:
    """The page's layout is in, no callback is running and no element came or went for ``quiet_ms``."""
    wait_for(driver, drawn, 30)
    driver.execute_async_script(QUIET, quiet_ms, most_ms)


def check(driver, where: str, found: dict) -> None:
    violations = [v for v in run_axe(driver) if v["impact"] in FAILING]
    if violations:
        found[where] = describe(violations)


def test_every_page_in_both_themes_at_both_widths_has_no_violation(dash_duo, demo_app, users):
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(*DESKTOP)
    found: dict[str, str] = {}
    driver.get(dash_duo.server.url + "/login")
    wait_for(driver, lambda d: d.find_elements(By.ID, "username"))
    check(driver, "/login", found)
    browser_sign_in(driver, dash_duo.server.url, "/client", "admin", users["admin"])
    for page in PAGES:
        driver.get(dash_duo.server.url + page)
        settled(driver)
        for theme in ("light", "dark"):
            if theme == "dark":
                switch_theme(driver, "dark")
            check(driver, f"{page} {theme} desktop", found)
            driver.set_window_size(*PHONE)
            settled(driver, 150)
            check(driver, f"{page} {theme} phone", found)
            driver.set_window_size(*DESKTOP)
        switch_theme(driver, "light")
    assert not found, "\n".join(f"{where}:\n{text}" for where, text in found.items())
