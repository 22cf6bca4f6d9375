"""The playback page in headless Chromium on a known small run (tests/data_access/test_playback_data.py):
replay progresses with no server request per tick, pause stops it, seek jumps, the speed changes the
rate, the window shows its last bars, markers sit on the engine's fill bars at the fill prices (an up
arrow for a long entry, a down arrow for a short one, a circle for an exit), no console errors; screenshots mid-playback at 1400 px and 375 px. Plus the replay/live API's roles and
errors over HTTP."""

from __future__ import annotations

import json
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from data_access import migrate
from layouts import playback_ids as ids
from tests.conftest import browser_sign_in, build_app, requires_chromedriver, wait_for
from tests.dashboards.test_client_page import signed_in
from tests.dashboards.test_empty_book_pages import switch_theme
from tests.data_access.test_playback_data import N_BARS, expected_events, small_bars, store_small_run

STATE = "return window.tbPlaybackState"
# the chart's own account of what it holds and shows (assets/playback_chart.js): bars in its series,
# the first and last bar in view and their count, markers as [bar, code, price, shape, colour]
VIEW = "return window.tbPlaybackChart && window.tbPlaybackChart.view()"
SHAPES = {"EL": "arrowUp", "ES": "arrowDown", "XL": "circle", "XS": "circle"}


def after_paint(body: str) -> str:
    """An async script that runs ``body`` (which ends with ``done(...)``) in an animation frame after
    one in which neither the player nor the chart moved and the chart had drawn the player's position:
    the canvas then shows the player's state."""
    return ("const done = arguments[arguments.length - 1], s = window.tbPlaybackState; let seen = null;"
            "const step = () => { const c = window.tbPlaybackChart, drawn = c ? c.drawn() : -1;"
            "  const now = s.pos + ':' + s.win + ':' + drawn;"
            f"  if (now === seen && drawn === s.pos) {{ {body} }} else {{ seen = now; requestAnimationFrame(step); }} }};"
            "requestAnimationFrame(step);")


@pytest.fixture
def playback_app(app_settings, redis_client):
    migrate.upgrade(app_settings.DATABASE_URL)
    run_id, _result = store_small_run(app_settings.DATABASE_URL)
    dash_app = build_app(app_settings)
    dash_app.playback_run_id = run_id
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


def test_the_api_serves_chunks_and_refuses_clearly(playback_app, users):
    run_id = playback_app.playback_run_id
    client = signed_in(playback_app, "analyst", users["analyst"])
    chunk = client.get(f"/api/v1/playback/runs/{run_id}/chunk?start=0&count=100")
    assert chunk.status_code == 200 and chunk.get_json()["count"] == 100 and chunk.get_json()["total"] == N_BARS
    assert client.get(f"/api/v1/playback/runs/{run_id}").get_json()["total"] == N_BARS
    assert client.get(f"/api/v1/playback/runs/{run_id + 50}/chunk").status_code == 404
    for junk in ("abc", "²", str(2 ** 63), "-1"):  # never a 500 from a driver overflow
        assert client.get(f"/api/v1/playback/runs/{junk}/chunk").status_code == 404, junk
        assert client.get(f"/api/v1/playback/runs/{junk}").status_code == 404, junk
        assert client.get(f"/api/v1/backtests/{junk}").status_code == 404, junk
    bad = client.get(f"/api/v1/playback/runs/{run_id}/chunk?count=999999")
    assert bad.status_code == 400 and bad.get_json()["error"]["details"]["max_count"] == 10_000
    assert client.get(f"/api/v1/playback/runs/{run_id}/chunk?start=x").status_code == 400
    unknown = client.post("/api/v1/playback/live", json={"symbol": "PLAY", "strategy": "nope"})
    assert unknown.status_code == 400 and "sma_cross" in unknown.get_json()["error"]["details"]["valid_kinds"]
    params = client.post("/api/v1/playback/live", json={"symbol": "PLAY", "strategy": "sma_cross", "params": {"fast": 0}})
    assert params.status_code == 400 and "Valid parameters" in params.get_json()["error"]["message"]
    symbol = client.post("/api/v1/playback/live", json={"symbol": "NOPE", "strategy": "sma_cross"})
    assert symbol.status_code == 400 and "valid symbols: PLAY" in symbol.get_json()["error"]["message"]
    assert client.get("/api/v1/playback/live/0123456789abcdef").status_code == 404
    assert client.get("/api/v1/playback/live/0123456789abcdef?after=x").status_code in (400, 404)
    assert playback_app.server.test_client().get(f"/api/v1/playback/runs/{run_id}/chunk").status_code == 401


def test_the_page_callbacks_refuse_a_client_role(playback_app, users):
    """Straight to Dash's callback endpoint: a client role gets no run list, symbols or strategies,
    cannot open a run and cannot start a live run; an analyst can."""
    from app.auth import create_user
    from tests.dashboards.test_signal_sender_page import registered_call

    run_id = playback_app.playback_run_id
    with playback_app.server.extensions["tradeboard"].session() as session:
        create_user(session, "investor", "client", password="client-password-123")

    def start_page(client):
        return registered_call(client, ids.RUN_PICKER, [{"id": ids.INIT, "property": "data", "value": {"run": None}}])

    def pick_run(client):
        return registered_call(client, ids.RUN_HEADER, [{"id": ids.RUN_PICKER, "property": "value", "value": run_id}])

    def start_live(client):
        return registered_call(client, ids.FORM_MESSAGE, [{"id": ids.FORM_START, "property": "n_clicks", "value": 1}],
                               [{"id": ids.FORM_SYMBOL, "property": "value", "value": "PLAY"},
                                {"id": ids.FORM_KIND, "property": "value", "value": "nope"}, [], [],
                                {"id": ids.FORM_CASH, "property": "value", "value": 10_000}])

    analyst = signed_in(playback_app, "analyst", users["analyst"])
    page = start_page(analyst).get_json()["response"]
    assert run_id in [o["value"] for o in page[ids.RUN_PICKER]["options"]] and page[ids.FORM_SYMBOL]["value"] == "PLAY"
    assert "PLAY" in json.dumps(pick_run(analyst).get_json()["response"][ids.RUN_HEADER])
    assert "sma_cross" in json.dumps(start_live(analyst).get_json()["response"][ids.FORM_MESSAGE])  # valid kinds

    investor = signed_in(playback_app, "investor", "client-password-123")
    denied = start_page(investor).get_json()["response"]
    assert denied[ids.RUN_PICKER]["options"] == [] and denied[ids.FORM_SYMBOL]["options"] == []
    assert denied[ids.FORM_KIND]["options"] == []
    opened = pick_run(investor).get_json()["response"]
    assert ids.SOURCE not in opened and "may not replay" in json.dumps(opened[ids.RUN_HEADER])
    started = start_live(investor).get_json()["response"]
    assert ids.SOURCE not in started and "may not start backtests" in json.dumps(started[ids.FORM_MESSAGE])


def _state(driver, key):
    return driver.execute_script(f"return window.tbPlaybackState && window.tbPlaybackState.{key}")


def _view(driver):
    """The chart's view after a frame that painted the player's state."""
    return driver.execute_async_script(after_paint(f"done((function () {{ {VIEW} }})());"))


def _candles(driver):
    """Candles in view; -1 before the chart exists."""
    view = _view(driver)
    return view["shown"] if view else -1


def _select(driver, component_id, value):
    Select(driver.find_element(By.ID, component_id)).select_by_value(value)


def _seek(driver, text):
    box = driver.find_element(By.ID, ids.SEEK_TO)
    box.clear()
    box.send_keys(text)
    button = driver.find_element(By.ID, ids.SEEK)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", button)
    button.click()


def _rate(driver, seconds=1.0):
    a, t0 = _state(driver, "pos"), time.monotonic()
    time.sleep(seconds)
    return (_state(driver, "pos") - a) / (time.monotonic() - t0)


@requires_chromedriver
def test_replay_plays_pauses_seeks_and_windows_a_known_run(dash_duo, playback_app, users, screenshot_dir):
    run_id = playback_app.playback_run_id
    dash_duo.start_server(playback_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1400, 1000)
    browser_sign_in(driver, base, "/playback", "analyst", users["analyst"])
    wait_for(driver, lambda d: d.find_elements(By.ID, ids.RUN_PICKER))
    # no run yet: the status says what to do
    wait_for(driver, lambda d: d.find_element(By.ID, ids.STATUS).text == "Pick a stored run or start a live one.")
    driver.get(f"{base}/playback?run={run_id}")  # as the strategy page's drill-down links to it
    wait_for(driver, lambda d: d.find_elements(By.ID, ids.SPEED))
    _select(driver, ids.SPEED, "10")

    # replay progresses by itself once the run is loaded, from data fetched once
    wait_for(driver, lambda d: (_state(d, "pos") or 0) > 5)
    assert _state(driver, "n") == N_BARS and _state(driver, "total") == N_BARS
    requests_before = driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('/playback/')).length")
    time.sleep(0.5)
    requests_after = driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('/playback/')).length")
    assert requests_after == requests_before  # no server request per tick
    assert driver.find_element(By.ID, ids.PLAY).text == "Pause"

    # pause stops progress
    driver.find_element(By.ID, ids.PLAY).click()
    wait_for(driver, lambda d: d.find_element(By.ID, ids.PLAY).text == "Play")
    paused_at = _state(driver, "pos")
    time.sleep(0.7)
    assert _state(driver, "pos") == paused_at and _candles(driver) == paused_at == _view(driver)["drawn"]

    # seek to a bar: the chart shows bars 1..120; markers on the engine's fill bars at the fill prices
    _seek(driver, "120")
    wait_for(driver, lambda d: _state(d, "pos") == 120 and _candles(d) == 120)
    expected = [e for e in expected_events(small_bars()) if e[0] < 120]
    markers = _view(driver)["markers"]
    assert [m[:2] for m in markers] == [e[:2] for e in expected]
    assert [m[2] for m in markers] == pytest.approx([e[2] for e in expected], abs=1e-3)
    assert {m[1] for m in markers} >= {"EL", "ES", "XL", "XS"}  # every kind of fill, each in its shape
    assert all(m[3] == SHAPES[m[1]] for m in markers), markers
    painted = driver.execute_async_script(after_paint("const v = window.tbPlaybackChart.view(); done([v.markers, v.painted]);"))
    assert painted[0] == painted[1] and painted[0]  # the chart drew every fill in view, and only those
    assert driver.find_element(By.ID, ids.PROGRESS_TEXT).text == f"120 / {N_BARS}"
    log_rows = driver.find_elements(By.CSS_SELECTOR, f"#{ids.LOG_BODY} tr")
    assert 0 < len(log_rows) <= ids.LOG_ROWS

    # step one bar
    driver.find_element(By.ID, ids.STEP).click()
    wait_for(driver, lambda d: _state(d, "pos") == 121 and _candles(d) == 121)

    # seek by date
    _seek(driver, small_bars()["time"][40].strftime("%Y-%m-%d"))
    wait_for(driver, lambda d: _state(d, "pos") == 41 and _candles(d) == 41)
    _seek(driver, "120")
    wait_for(driver, lambda d: _state(d, "pos") == 120)

    # the window shows its last 100 bars (and keeps only the markers inside it)
    _select(driver, ids.WINDOW, "100")
    wait_for(driver, lambda d: _candles(d) == 100)
    view = _view(driver)
    assert (view["first"], view["last"], view["drawn"]) == (20, 119, 120)
    assert view["markers"] and min(m[0] for m in view["markers"]) >= 20
    time.sleep(0.3)
    driver.set_window_size(1400, 1100)
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_dir / "playback_mid.png"))

    # the crosshair's tooltip on a fill's bar: its time, OHLC, volume and the fill
    fill = next(e for e in expected if e[0] >= 20 and e[1] == "EL")
    bars = small_bars()
    point = driver.execute_script(
        "const p = window.tbPlaybackChart.bodyPoint(arguments[0]);"
        f"const box = [...document.querySelectorAll('#{ids.CHART} canvas')].filter(e => e.clientWidth > 100)[0]"
        ".getBoundingClientRect(); return [box.left + p.x, box.top + p.y];", fill[0])
    for kind in ("mouseMoved", "mouseMoved"):  # twice: the chart tracks a move, not a jump
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": point[0] - 1, "y": point[1]})
        driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": point[0], "y": point[1]})
    tip = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".tb-playback-tip").is_displayed()
                   and d.find_element(By.CSS_SELECTOR, ".tb-playback-tip").text)

    def shown(value: float) -> str:
        return f"{value:,.4f}".rstrip("0").rstrip(".")

    assert f"bar {fill[0] + 1}" in tip and bars["time"][fill[0]].strftime("%Y-%m-%d") in tip, tip
    assert f"O {shown(bars['open'][fill[0]])}" in tip and f"C {shown(bars['close'][fill[0]])}" in tip, tip
    assert f"V {int(bars['volume'][fill[0]]):,}" in tip and f"long entry {fill[3]:,} @ {shown(fill[2])}" in tip, tip

    # the dark theme: the chart's text follows it
    switch_theme(driver, "dark")
    driver.save_screenshot(str(screenshot_dir / "playback_dark.png"))
    switch_theme(driver, "light")

    # speed: slow, then fast; the window still caps the candles while it plays
    _seek(driver, "20")
    wait_for(driver, lambda d: _state(d, "pos") == 20 and _candles(d) == 20)
    _select(driver, ids.SPEED, "2")
    driver.find_element(By.ID, ids.PLAY).click()
    wait_for(driver, lambda d: d.find_element(By.ID, ids.PLAY).text == "Pause")
    slow = _rate(driver, 1.5)
    _select(driver, ids.SPEED, "30")
    time.sleep(0.2)
    fast = _rate(driver, 1.0)
    assert slow <= 4 and fast >= 15, (slow, fast, _state(driver, "playing"), _state(driver, "pos"), _state(driver, "n"),
                                      driver.find_element(By.ID, ids.PLAY).text)
    wait_for(driver, lambda d: _state(d, "pos") == N_BARS, timeout=15)
    wait_for(driver, lambda d: d.find_element(By.ID, ids.PLAY).text == "Play")  # stops at the end
    assert _candles(driver) == 100
    assert driver.find_element(By.ID, ids.PROGRESS_PCT).text == "100.0 %"
    trades = int(driver.find_element(By.ID, ids.TRADES).text)
    assert trades == len([e for e in expected_events(small_bars()) if e[1][0] == "X"])

    # replay from the start
    driver.find_element(By.ID, ids.RESTART).click()
    wait_for(driver, lambda d: 0 < _state(d, "pos") < 60)
    driver.find_element(By.ID, ids.PLAY).click()
    wait_for(driver, lambda d: d.find_element(By.ID, ids.PLAY).text == "Play")

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], "\n".join(e["message"] for e in errors)

    # phone width: nothing wider than the screen
    driver.set_window_size(375, 812)
    _seek(driver, "120")
    wait_for(driver, lambda d: _state(d, "pos") == 120)
    time.sleep(0.5)
    too_wide = driver.execute_script(
        "return [...document.querySelectorAll('body *')]"
        ".filter(e => !e.closest('.table-responsive, .dash-dropdown-value, .dash-dropdown-focus-target'))"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)")
    assert too_wide == [], f"wider than the phone screen: {too_wide}"  # (a long run label is cut by the dropdown)
    driver.set_window_size(375, 2000)
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_dir / "playback_mid_phone.png"))
