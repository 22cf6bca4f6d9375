"""The strategy-performance page on seeded demo data: in a browser (every chart and the grid render,
the time range and the heatmap's kind/axes change what is drawn, a configuration opens its latest
run with candles, markers and trades, no console errors, phone width), and its Dash callbacks
refusing a role that may not see it. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from sqlalchemy import select

from app.auth import create_user
from data_access.models import BacktestRun
from layouts import strategies_ids as ids
from tests.conftest import browser_sign_in, demo_app_on, requires_chromedriver, shown_count, wait_for
from tests.dashboards.test_client_page import signed_in
from tests.dashboards.test_signal_sender_page import dash_call

CHARTS = (ids.VOLATILITY_CHART, ids.SYMBOL_CHART, ids.SHARPE_CHART, ids.HEATMAP_CHART)


@pytest.fixture
def demo_app(app_settings, redis_client):
    yield from demo_app_on(app_settings, lambda session: create_user(session, "investor", "client",
                                                                     password="client-password-123"))


def plot(driver, graph_id: str, expression: str):
    """``expression`` evaluated on the graph's plotly element ``g`` (null until it is drawn)."""
    return driver.execute_script(
        f"const el = document.getElementById('{graph_id}'); const g = el && el.querySelector('.js-plotly-plot');"
        f"return g && g.data ? ({expression}) : null;")


def has_traces(graph_id: str):
    return lambda d: plot(d, graph_id, "g.data.length > 0 && !g.layout.annotations?.some(a => a.text && a.text.startsWith('No '))")


def pick(driver, dropdown_id: str, value: str) -> None:
    """Choose ``value`` in a dcc.Dropdown by clicking it open and clicking the option."""
    driver.find_element(By.CSS_SELECTOR, f"#{dropdown_id}").click()
    option = wait_for(driver, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option, [role='option']")
                                      if o.text.strip() == value.replace("_", " ")])
    option[0].click()


def heatmap_state(driver):
    return plot(driver, ids.HEATMAP_CHART, "[g.layout.xaxis.title.text, g.layout.yaxis.title.text, JSON.stringify(g.data[0].z)]")


LOAD_OUTPUTS = [(ids.DOCUMENT, "data"), (ids.STATUS, "children"), (ids.HEATMAP_KIND, "options"),
                (ids.HEATMAP_KIND, "value"), (ids.HEATMAP_X, "options"), (ids.HEATMAP_X, "value"),
                (ids.HEATMAP_Y, "options"), (ids.HEATMAP_Y, "value")]
LOAD_INPUTS = [{"id": ids.TIME_RANGE, "property": "value", "value": "30d"},
               {"id": ids.TICK, "property": "n_intervals", "value": None},
               {"id": ids.REFRESH_NOW, "property": "n_clicks", "value": None},
               {"id": ids.HEATMAP_KIND, "property": "value", "value": None},
               {"id": ids.HEATMAP_X, "property": "value", "value": None},
               {"id": ids.HEATMAP_Y, "property": "value", "value": None},
               {"id": ids.FORM_DONE, "property": "data", "value": None}]
RUN_OUTPUTS = [(ids.DRILLDOWN, "style"), (ids.DRILLDOWN_TITLE, "children"), (ids.DRILLDOWN_SUMMARY, "children"),
               (ids.error("drilldown"), "children"), (ids.CANDLES_CHART, "figure"), (ids.RUN_EQUITY_CHART, "figure"),
               (ids.TRADES_GRID, "rowData"), (ids.PLAYBACK_LINK, "href")]


def test_the_page_callbacks_give_a_client_role_nothing(demo_app, users):
    analyst = signed_in(demo_app, "analyst", users["analyst"])
    doc = dash_call(analyst, LOAD_OUTPUTS, LOAD_INPUTS).get_json()["response"]
    assert doc[ids.DOCUMENT]["data"]["backtest_count"] > 0 and doc[ids.HEATMAP_KIND]["value"] == "sma_cross"
    run_id = doc[ids.DOCUMENT]["data"]["configurations"][0]["latest_run_id"]
    shown = dash_call(analyst, RUN_OUTPUTS, [{"id": ids.RUN, "property": "data", "value": run_id}]).get_json()["response"]
    assert shown[ids.TRADES_GRID]["rowData"] and shown[ids.DRILLDOWN]["style"] == {"display": "block"}

    investor = signed_in(demo_app, "investor", "client-password-123")
    denied = dash_call(investor, LOAD_OUTPUTS, LOAD_INPUTS).get_json()["response"]
    assert denied[ids.DOCUMENT]["data"] is None and "may not see" in json.dumps(denied[ids.STATUS])
    assert denied[ids.HEATMAP_KIND]["options"] == []
    hidden = dash_call(investor, RUN_OUTPUTS, [{"id": ids.RUN, "property": "data", "value": run_id}]).get_json()["response"]
    assert hidden[ids.TRADES_GRID]["rowData"] == [] and hidden[ids.DRILLDOWN]["style"] == {"display": "none"}
    assert ids.CANDLES_CHART not in hidden  # no figure of the run is sent


def test_the_backtest_form_refuses_a_client_role(demo_app, users):
    """Straight to Dash's callback endpoint: a client role gets no symbols and no signed ticket (so
    no background job runs); an analyst's valid request gets one."""
    from tests.dashboards.test_signal_sender_page import registered_call

    def symbols(client):
        return registered_call(client, ids.FORM_SYMBOLS, [{"id": ids.FORM_SYMBOLS, "property": "id",
                                                           "value": ids.FORM_SYMBOLS}])

    def submit(client, symbol):
        return registered_call(client, ids.FORM_TICKET, [{"id": ids.FORM_RUN, "property": "n_clicks", "value": 1}], [
            {"id": ids.FORM_KIND, "property": "value", "value": "sma_cross"},
            {"id": ids.FORM_SYMBOLS, "property": "value", "value": [symbol]}, [], [],
            {"id": ids.FORM_CASH, "property": "value", "value": 100_000},
            {"id": ids.FORM_START, "property": "value", "value": None},
            {"id": ids.FORM_END, "property": "value", "value": None},
        ])

    analyst = signed_in(demo_app, "analyst", users["analyst"])
    [symbol, *_] = symbols(analyst).get_json()["response"][ids.FORM_SYMBOLS]["options"]
    accepted = submit(analyst, symbol).get_json()["response"]
    assert accepted[ids.FORM_TICKET]["data"] and "Starting 1 run" in accepted[ids.FORM_MESSAGE]["children"]

    investor = signed_in(demo_app, "investor", "client-password-123")
    assert symbols(investor).get_json()["response"][ids.FORM_SYMBOLS] == {"options": [], "value": []}
    refused = submit(investor, symbol).get_json()["response"]
    assert refused[ids.FORM_TICKET]["data"] is None
    assert refused[ids.FORM_MESSAGE]["children"] == "Your role may not run backtests."


# what in a chart the modebar's box intersects: subplot titles, bars, heatmap cells and their labels
MODEBAR_OVERLAPS = """
const root = document.getElementById(arguments[0]), bar = root.querySelector('.modebar');
const m = bar.getBoundingClientRect();
return [...root.querySelectorAll('.annotation-text, .point path, .textpoint text, .hm text, .heatmaplayer image')]
  .map(e => [e.textContent || e.tagName, e.getBoundingClientRect()])
  .filter(([_, r]) => r.width > 0 && r.left < m.right && r.right > m.left && r.top < m.bottom && r.bottom > m.top)
  .map(([label]) => label);"""


@requires_chromedriver
def test_strategies_page_renders_reacts_and_drills_into_a_run(dash_duo, demo_app, users, screenshot_dir):
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    base = dash_duo.server.url.rstrip("/")
    driver.set_window_size(1400, 1000)
    browser_sign_in(driver, base, "/strategies", "admin", users["admin"])

    for chart in CHARTS:
        wait_for(driver, has_traces(chart))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.CONFIGURATIONS_GRID} .ag-row .ag-cell"))
    wait_for(driver, EC.text_to_be_present_in_element((By.ID, ids.freshness("heatmap")), "updated"))
    count_30d = driver.find_element(By.ID, ids.BACKTEST_COUNT).text
    assert count_30d.endswith("backtests") and "last run completed" in driver.find_element(By.ID, ids.LAST_UPDATED).text
    assert plot(driver, ids.HEATMAP_CHART, "g.data[0].type") == "heatmap"
    assert plot(driver, ids.VOLATILITY_CHART, "g.data.map(t => t.type).join()") == "bar,bar"
    card = driver.find_element(By.ID, ids.ML_CARD).text  # the demo seed has one finished sweep
    assert "sma_cross" in card and "sample" in card.lower(), card
    assert not shown_count(driver, ".alert-danger, .alert-warning")
    # the text summary reads the regime labels as words, not Plotly's line-break markup
    summary = wait_for(driver, lambda d: d.find_element(By.ID, f"{ids.VOLATILITY_CHART}-summary").text)
    assert "<" not in summary and re.search(r"Mean Sharpe: \w+ n=\d", summary), summary
    for chart in (ids.VOLATILITY_CHART, ids.HEATMAP_CHART):  # the modebar (shown on hover) covers nothing drawn
        assert driver.execute_script(MODEBAR_OVERLAPS, chart) == [], chart
    driver.set_window_size(1400, 1900)
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_dir / "strategies_desktop.png"))
    driver.set_window_size(1400, 1000)

    # time range: all runs, Sharpe per week
    days = plot(driver, ids.SHARPE_CHART, "g.data[0].x.length")
    driver.find_element(By.CSS_SELECTOR, f"label[for='_dbcprivate_radioitems_{ids.TIME_RANGE}_input_all']").click()
    wait_for(driver, lambda d: d.find_element(By.ID, ids.BACKTEST_COUNT).text not in (count_30d, "—"))
    wait_for(driver, lambda d: plot(d, ids.SHARPE_CHART, "g.data[0].x.length") not in (None, days))
    assert "per week" in plot(driver, ids.SHARPE_CHART, "g.layout.yaxis.title.text")

    # heatmap: another kind starts on its own first two parameters; then another y axis
    first = heatmap_state(driver)
    assert first[:2] == ["fast", "slow"]
    pick(driver, ids.HEATMAP_KIND, "rsi_reversion")
    wait_for(driver, lambda d: (heatmap_state(d) or [None])[:2] == ["period", "lower"])
    pick(driver, ids.HEATMAP_Y, "upper")
    wait_for(driver, lambda d: (heatmap_state(d) or [None])[:2] == ["period", "upper"])
    assert heatmap_state(driver)[2] != first[2]

    # drill-down: a configuration's row opens its latest run
    with demo_app.server.extensions["tradeboard"].session() as session:  # runs with a few trades to draw
        traded = set(session.scalars(select(BacktestRun.id).where(BacktestRun.number_of_trades > 2)))
    latest = driver.execute_script(
        f"const api = dash_ag_grid.getApi('{ids.CONFIGURATIONS_GRID}'); const out = [];"
        "api.forEachNodeAfterFilterAndSort(n => out.push(n.data.latest_run_id)); return out;")
    index, run_id = next((i, r) for i, r in enumerate(latest) if r in traded)
    driver.execute_script(f"dash_ag_grid.getApi('{ids.CONFIGURATIONS_GRID}').ensureIndexVisible({index}, 'middle')")
    row = wait_for(driver, lambda d: d.find_element(
        By.CSS_SELECTOR, f"#{ids.CONFIGURATIONS_GRID} .ag-center-cols-container .ag-row[row-index='{index}'] .ag-cell"))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    time.sleep(0.3)
    row.click()
    wait_for(driver, lambda d: d.find_element(By.ID, ids.DRILLDOWN).is_displayed())
    wait_for(driver, lambda d: plot(d, ids.CANDLES_CHART, "g.data[0].type") == "candlestick")
    traces = plot(driver, ids.CANDLES_CHART, "g.data.map(t => [t.name, t.type == 'candlestick' ? t.x.length : t.x.length])")
    by_name = dict(traces[1:])
    assert traces[0][1] > 200 and by_name["Exit"] > 0 and by_name["Long entry"] + by_name["Short entry"] == by_name["Exit"]
    wait_for(driver, lambda d: plot(d, ids.RUN_EQUITY_CHART, "g.data.length") == 2)
    rows = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.TRADES_GRID} .ag-center-cols-container .ag-row"))
    assert len(rows) == by_name["Exit"] or len(rows) >= 10
    link = driver.find_element(By.ID, ids.PLAYBACK_LINK)
    assert link.get_attribute("href").endswith(f"/playback?run={run_id}") and link.text == "Open in playback"
    assert f"Run {run_id}" in driver.find_element(By.ID, ids.DRILLDOWN_TITLE).text
    driver.execute_script(  # below the sticky navbar; 'instant': Bootstrap makes scrolling smooth
        f"const top = document.getElementById('{ids.DRILLDOWN}').getBoundingClientRect().top + window.scrollY - 80;"
        "window.scrollTo({top: top, behavior: 'instant'})")
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_dir / "strategies_drilldown.png"))

    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors

    # phone width, opened on a run link
    driver.set_window_size(375, 812)
    driver.get(f"{base}/strategies?run={run_id}")
    for chart in (ids.VOLATILITY_CHART, ids.CANDLES_CHART):
        wait_for(driver, lambda d, c=chart: plot(d, c, "g.data.length > 0"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.CONFIGURATIONS_GRID} .ag-row .ag-cell"))
    time.sleep(0.5)
    too_wide = driver.execute_script(
        "return [...document.querySelectorAll('body *')]"
        ".filter(e => !e.closest('.ag-root-wrapper-body, .js-plotly-plot'))"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)")
    assert too_wide == [], f"wider than the phone screen: {too_wide}"
    ticks = driver.execute_script(  # the regimes' labels: horizontal, inside the chart, not overlapping
        f"const chart = document.getElementById('{ids.VOLATILITY_CHART}').querySelector('.main-svg').getBoundingClientRect();"
        f"return [...document.querySelectorAll('#{ids.VOLATILITY_CHART} .xtick text')].map(t => {{"
        "const r = t.getBoundingClientRect();"
        "return {rotated: /rotate\\(-?[1-9]/.test(t.getAttribute('transform') || ''), left: r.left, right: r.right,"
        "        inside: r.bottom <= chart.bottom + 0.5 && r.top >= chart.top}; })")
    assert ticks and not any(t["rotated"] for t in ticks) and all(t["inside"] for t in ticks), ticks
    by_position = sorted(ticks, key=lambda t: t["left"])
    assert all(a["right"] <= b["left"] + 1 for a, b in zip(by_position, by_position[1:])), by_position
    driver.save_screenshot(str(screenshot_dir / "strategies_phone.png"))
    driver.set_window_size(375, 3000)
    time.sleep(0.5)
    driver.save_screenshot(str(screenshot_dir / "strategies_phone_full.png"))
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors


def start_a_sweep_from_the_form(dash_duo, demo_app, users, params: dict[str, str]):
    """Signed in as the admin on /strategies: the form's parameter fields set to ``params`` (the
    comma-separated values of a sweep), then "Run". Returns the driver."""
    dash_duo.start_server(demo_app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1400, 1000)
    browser_sign_in(driver, dash_duo.server.url.rstrip("/"), "/strategies", "admin", users["admin"])
    wait_for(driver, has_traces(ids.HEATMAP_CHART))
    for name, values in params.items():
        field = wait_for(driver, lambda d, n=name: d.find_element(By.CSS_SELECTOR, f"input[id*='\"name\":\"{n}\"']"))
        field.clear()
        field.send_keys(values + "\t")
    run = driver.find_element(By.ID, ids.FORM_RUN)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()", run)
    return driver


@requires_chromedriver
def test_a_sweep_started_from_the_form_runs_on_a_worker_to_100_percent(dash_duo, demo_app, users, screenshot_dir,
                                                                        app_settings, redis_url):
    """The form's background callback runs on a real Celery worker (CeleryManager) and reports
    progress; the finished runs are stored and the dashboard reloads with them."""
    import uuid

    from tests.celery_worker import output_tail, running_worker

    with demo_app.server.extensions["tradeboard"].session() as session:
        before = session.query(BacktestRun).count()
    with running_worker(redis_url, app_settings.DATABASE_URL, f"form-{uuid.uuid4().hex[:6]}@localhost",
                        SECRET_KEY=app_settings.SECRET_KEY) as worker:
        driver = start_a_sweep_from_the_form(dash_duo, demo_app, users, {"fast": "5,10"})
        try:
            wait_for(driver, lambda d: "Done: 2 of 2 runs stored" in d.find_element(By.ID, ids.FORM_MESSAGE).text, 90)
        except Exception:
            worker.terminate()
            raise AssertionError(f"the sweep did not finish; worker said: {output_tail(worker)}") from None
        label = driver.find_element(By.ID, ids.FORM_PROGRESS).text
        assert "2/2 runs" in label, label
        driver.save_screenshot(str(screenshot_dir / "strategies_form_done.png"))
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    with demo_app.server.extensions["tradeboard"].session() as session:
        assert session.query(BacktestRun).count() == before + 2


@requires_chromedriver
def test_a_sweep_started_from_the_form_can_be_cancelled_and_keeps_what_it_stored(dash_duo, demo_app, users,
                                                                                app_settings, redis_url):
    """Cancel while the worker is part-way: the rest of the members are skipped, the message says how
    many runs were stored, and those stay (nothing more is stored after the cancel)."""
    import re
    import uuid

    from tests.celery_worker import output_tail, running_worker

    with demo_app.server.extensions["tradeboard"].session() as session:
        before = session.query(BacktestRun).count()
    with running_worker(redis_url, app_settings.DATABASE_URL, f"cancel-{uuid.uuid4().hex[:6]}@localhost",
                        SECRET_KEY=app_settings.SECRET_KEY) as worker:
        driver = start_a_sweep_from_the_form(dash_duo, demo_app, users, {
            "fast": ",".join(str(v) for v in range(2, 62)), "slow": "100,150,200,250,300"})

        def runs_done(d) -> int:
            match = re.match(r"(\d+)/300 runs", d.find_element(By.ID, ids.FORM_PROGRESS).text)
            return int(match.group(1)) if match else 0

        try:
            wait_for(driver, lambda d: runs_done(d) >= 3, 90)
        except Exception:
            worker.terminate()
            raise AssertionError(f"the sweep did not start; worker said: {output_tail(worker)}") from None
        cancel = driver.find_element(By.ID, ids.FORM_CANCEL)
        driver.execute_script("arguments[0].click()", cancel)
        message = wait_for(driver, lambda d: re.search(r"Cancelled after (\d+) of 300 runs",
                                                       d.find_element(By.ID, ids.FORM_MESSAGE).text), 30)
        stored = int(message.group(1))
        assert 3 <= stored < 300, message.group(0)
        time.sleep(2)  # a member in flight when the cancel came may still finish: at most one
    with demo_app.server.extensions["tradeboard"].session() as session:
        assert stored <= session.query(BacktestRun).count() - before <= stored + 1
