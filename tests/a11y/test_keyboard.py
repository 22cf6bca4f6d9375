"""The keyboard alone, in headless Chromium: every page walked by Tab from the top (the skip link
first, then each control in document order, each with a visible focus ring, in both themes); the
skip link, the login form, the navbar at phone width; the playback's keys; and what a screen reader
gets: landmarks, one h1, headings in order, named charts with a text summary, a polite progress."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from layouts import playback_ids as pids
from tests.a11y.test_axe_pages import DESKTOP, PAGES, drawn, settled
from tests.conftest import browser_sign_in, demo_app_on, requires_chromedriver, wait_for
from tests.dashboards.test_empty_book_pages import switch_theme
from tests.dashboards.test_playback_page import _select, _state, playback_app  # noqa: F401 - a fixture

pytestmark = requires_chromedriver
DARK_TABS = 10  # the dark theme's walk: the same order, so its first stops show its rings

# The page's tab stops in document order, as a browser takes them: visible, enabled, tabindex >= 0, one
# radio per group (the checked one). A Dash dropdown's focus stop hands focus to its button at once;
# an AG Grid is one stop (Tab enters its header; inside it the arrow keys move, as AG Grid documents).
TAB_STOPS = """
const selector = 'a[href], button, input, select, textarea, [tabindex], .ag-root-wrapper';
const seenRadio = new Set();
return [...document.querySelectorAll(selector)].filter(el => {
  if (el.matches('.ag-root-wrapper')) return !el.closest('[hidden]') && el.getClientRects().length > 0;
  if (el.disabled || el.tabIndex < 0 || el.closest('[hidden], .ag-root-wrapper')) return false;
  if (el.type === 'radio') {
    if (seenRadio.has(el.name)) return false;
    const checked = document.querySelector(`input[type=radio][name="${el.name}"]:checked`);
    if (checked && checked !== el) return false;
    seenRadio.add(el.name);
  }
  const box = el.matches('.dash-dropdown-focus-target') ? el.parentElement : el;
  return box.getClientRects().length > 0 && getComputedStyle(box).visibility !== 'hidden';
}).map(el => el.matches('.dash-dropdown-focus-target') ? el.parentElement.querySelector('button') : el);
"""
FOCUS = """
const el = document.activeElement.closest('.ag-root-wrapper') || document.activeElement;
if (el.matches('.ag-root-wrapper')) return [el, true, 'grid ' + (el.closest('[id]') || {}).id];
const style = getComputedStyle(el);
const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) || style.boxShadow !== 'none';
return [el, ring, el.id || el.name || el.textContent.trim().slice(0, 30) || el.tagName];
"""


@pytest.fixture
def demo_app(app_settings, redis_client):
    yield from demo_app_on(app_settings, lambda session: None)


def walk(driver, where: str, tabs: int | None = None) -> None:
    """Tab from the top of the page: focus lands on each tab stop in order (all of them, or the first
    ``tabs``), each with a visible ring."""
    stops = driver.execute_script(TAB_STOPS)[:tabs]
    driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
    ActionChains(driver).send_keys(Keys.TAB).perform()
    previous = None
    for n, expected in enumerate(stops):
        element, ring, label = driver.execute_script(FOCUS)
        for _ in range(4):  # a date field takes one Tab per part (month, day, year) before the next stop
            if element != previous or previous.get_attribute("type") not in ("date", "datetime-local", "time"):
                break
            ActionChains(driver).send_keys(Keys.TAB).perform()
            element, ring, label = driver.execute_script(FOCUS)
        previous = element
        assert element == expected, f"{where}: Tab {n + 1} landed on {label!r}, not {expected.get_attribute('id') or expected.text[:30]!r}"
        assert ring, (f"{where}: {label!r} has focus but no visible focus ring: "
                      f"{element.get_attribute('outerHTML')[:300]}")
        if label.startswith("grid ") and n + 1 < len(stops):  # past the grid to the next stop
            driver.execute_script("arguments[0].focus()", stops[n + 1])
            continue
        ActionChains(driver).send_keys(Keys.TAB).perform()


def test_every_page_is_walked_by_tab_in_order_with_a_visible_focus_ring(dash_duo, demo_app, users):
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(*DESKTOP)
    base = dash_duo.server.url.rstrip("/")

    driver.get(base + "/login")
    wait_for(driver, lambda d: d.find_elements(By.ID, "username"))
    if driver.switch_to.active_element.get_attribute("id") != "username":  # the form focuses it first
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    order = []
    for _ in range(3):
        order.append(driver.switch_to.active_element.get_attribute("id"))
        ActionChains(driver).send_keys(Keys.TAB).perform()
    assert order == ["username", "password", "sign-in"], order

    browser_sign_in(driver, base, "/client", "admin", users["admin"])
    for theme in ("light", "dark"):
        if theme == "dark":
            switch_theme(driver, "dark")  # remembered by the pages opened next
        for page in PAGES:
            driver.get(base + page)  # Tab starts from the top of a new page
            settled(driver)
            first = driver.execute_script(TAB_STOPS)[0]
            assert first.text == "Skip to content", page
            walk(driver, f"{page} {theme}", tabs=DARK_TABS if theme == "dark" else None)
    switch_theme(driver, "light")

    # the skip link takes focus past the navbar to the page's content
    driver.get(base + "/client")
    wait_for(driver, drawn, 30)
    driver.switch_to.active_element.send_keys(Keys.TAB)
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: d.switch_to.active_element.get_attribute("id") == "main-content")

    # at phone width the navbar opens from its toggler by keyboard, and its links are reachable
    driver.set_window_size(390, 900)
    toggler = wait_for(driver, lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, ".navbar-toggler") if b.is_displayed()])[0]
    toggler.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: d.find_element(By.LINK_TEXT, "Signal sender").is_displayed())
    link = driver.find_element(By.LINK_TEXT, "Signal sender")
    link.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: d.current_url.endswith("/signal-sender"))


def test_landmarks_headings_and_charts_say_what_they_show(dash_duo, demo_app, users):
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(*DESKTOP)
    base = dash_duo.server.url.rstrip("/")
    browser_sign_in(driver, base, "/client", "admin", users["admin"])
    for page in PAGES:
        driver.get(base + page)
        wait_for(driver, drawn, 30)
        landmarks = driver.execute_script(
            "return ['header', 'nav', 'main'].map(t => document.querySelectorAll(t).length)")
        assert landmarks[0] == 1 and landmarks[1] >= 1 and landmarks[2] == 1, (page, landmarks)
        levels = driver.execute_script(
            "return [...document.querySelectorAll('main h1, main h2, main h3, main h4, main h5, main h6')]"
            ".filter(h => h.getClientRects().length).map(h => +h.tagName[1])")
        assert levels.count(1) == 1 and levels[0] == 1, (page, levels)
        assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), (page, levels)

    driver.get(base + "/client")
    wait_for(driver, drawn, 30)
    # a panel's error slot is announced when it fills
    slots = driver.execute_script("return [...document.querySelectorAll('[id$=\"-error\"]')].map(e => e.getAttribute('aria-live'))")
    assert slots and set(slots) == {"polite"}, slots
    # gains and losses carry their sign, not only their colour
    pnl = wait_for(driver, lambda d: d.find_element(By.ID, "client-kpi-total_pnl").text.strip() not in ("", "\u2014")
                   and d.find_element(By.ID, "client-kpi-total_pnl").text, 30)
    assert pnl[0] in "+-", pnl
    cells = wait_for(driver, lambda d: [c.text for c in d.find_elements(
        By.CSS_SELECTOR, "#client-strategies-grid .ag-cell[col-id='pnl']") if c.text], 30)
    assert all(c[0] in "+\u2212-" for c in cells), cells
    summary = wait_for(driver, lambda d: d.find_element(By.ID, "client-equity-chart-summary").text, 30)
    figure = driver.find_element(By.CSS_SELECTOR, "figure.tb-chart[aria-label='Equity and drawdown']")
    assert figure.get_attribute("aria-describedby") == "client-equity-chart-summary"
    assert "below its peak of" in summary or "at its high" in summary, summary
    # the text summary's figure is the chart's: the equity trace's last value, to 3 significant figures
    last = driver.execute_script(
        "const gd = document.querySelector('#client-equity-chart .js-plotly-plot');"
        "const t = gd.data.find(t => t.type !== 'bar' && (t.mode || 'lines').includes('lines'));"
        "return t.y[t.y.length - 1];")
    assert f"{last / 1e6:.2f} M" in summary, (last, summary)


def test_with_reduced_motion_nothing_animates(dash_duo, demo_app, users):
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
    browser_sign_in(driver, dash_duo.server.url.rstrip("/"), "/client", "admin", users["admin"])
    wait_for(driver, drawn, 30)
    durations = driver.execute_script(
        "return [...document.querySelectorAll('.btn, .form-select, .form-check-input, .progress-bar')]"
        ".map(e => parseFloat(getComputedStyle(e).transitionDuration) * 1000)")
    assert durations and max(durations) < 0.1, durations


def test_the_playback_plays_pauses_and_steps_by_keyboard_and_says_where_it_is(dash_duo, playback_app, users):
    run_id = playback_app.playback_run_id
    dash_duo.start_server(playback_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(*DESKTOP)
    browser_sign_in(driver, base, "/playback", "analyst", users["analyst"])
    driver.get(f"{base}/playback?run={run_id}")
    wait_for(driver, lambda d: d.find_elements(By.ID, pids.SPEED))
    _select(driver, pids.SPEED, "1")  # slow enough that the short run is still playing when the keys come
    wait_for(driver, lambda d: (_state(d, "total") or 0) > 0 and (_state(d, "pos") or 0) > 0 and _state(d, "playing"), 30)
    body = driver.find_element(By.TAG_NAME, "body")
    driver.execute_script("document.activeElement.blur()")
    body.send_keys(Keys.SPACE)
    wait_for(driver, lambda d: _state(d, "playing") is False, 30)
    paused_at = _state(driver, "pos")
    time.sleep(0.5)
    assert _state(driver, "pos") == paused_at, "paused"
    announced = driver.find_element(By.ID, pids.ANNOUNCE).get_attribute("textContent")
    assert announced.startswith("Paused, bar ") and f"bar {paused_at:,} of" in announced, announced
    body.send_keys(Keys.ARROW_RIGHT)
    wait_for(driver, lambda d: _state(d, "pos") == paused_at + 1, 30)
    body.send_keys(Keys.ARROW_LEFT)
    wait_for(driver, lambda d: _state(d, "pos") == paused_at, 30)
    body.send_keys(Keys.SPACE)
    wait_for(driver, lambda d: _state(d, "playing") is True and _state(d, "pos") > paused_at)
