"""The /import page in headless Chromium, as a person uses it: a file chosen in the file input,
columns matched, the whole file checked, committed on a real Celery worker, undone from the history.
Screenshots of each step go to artifacts/screenshots/import_*.png."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import func, select

from data_access import models as m
from layouts import import_ids as ids
from layouts import signal_sender_ids as sender_ids
from tests.conftest import browser_sign_in, build_app, requires_chromedriver, wait_for
from tests.dashboards.test_client_page import signed_in
from tests.dashboards.test_empty_book_pages import switch_theme
from tests.imports.test_ibkr_preset import SAMPLE
from tests.ingest_books import with_strategies

pytestmark = requires_chromedriver

CLEAN = ("signal_id,strategy_name,symbol,side,quantity,received_time,execution_status,filled_at\n"
         "w1,Alpha,AAPL,BUY,10,2026-12-01T14:30:00Z,FILLED,2026-12-01T14:30:01Z\n"
         "w2,Alpha,MSFT,SELL,5,2026-12-01T15:00:00Z,REJECTED,\n"
         "w3,Alpha,NVDA,BUY,7,2026-12-02T15:00:00Z,PENDING,\n")
BAD = ("signal_id,strategy_name,symbol,side,quantity,received_time,execution_status\n"
       "b1,Alpha,AAPL,BUY,10,2026-12-01T14:30:00Z,FILLED\n"
       "b2,Alpha,AAPL,BUY,10,2026-12-01T14:31:00Z,FILLED\n"
       "b3,Alpha,AAPL,BYU,10,2026-12-01T14:32:00Z,FILLED\n")
OWN_NAMES = ("Ref,Book,Ticker,Direction,Qty,When,State\n"
             "o1,Beta,AAPL,BUY,3,2026-12-03T14:30:00Z,FILLED\n"
             "o2,Beta,MSFT,SELL,4,2026-12-03T15:30:00Z,CANCELLED\n")


@pytest.fixture
def import_app(app_settings):
    dash_app = build_app(app_settings)
    with_strategies(dash_app.server.extensions["tradeboard"].engine)
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


@pytest.fixture
def worker(app_settings, redis_url):
    from tests.celery_worker import running_worker

    with running_worker(redis_url, app_settings.DATABASE_URL, f"import-{uuid.uuid4().hex[:6]}@localhost",
                        SECRET_KEY=app_settings.SECRET_KEY) as process:
        yield process


def assert_accessible(driver, where: str) -> None:
    """No critical, serious or moderate axe-core violation in the page as it is (when axe-core is installed)."""
    from tests.a11y.axe import AXE_PATH, describe, run_axe

    if AXE_PATH.exists():
        failing = [v for v in run_axe(driver) if v["impact"] in ("critical", "serious", "moderate")]
        assert not failing, f"{where}:\n{describe(failing)}"


def signals(dash_app) -> int:
    with dash_app.server.extensions["tradeboard"].engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(m.Signal)).scalar()


def text_of(driver, element_id: str) -> str:
    found = driver.find_elements(By.ID, element_id)
    return found[0].text if found else ""


def choose_file(driver, tmp_path: Path, name: str, content: bytes | str) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    driver.find_element(By.CSS_SELECTOR, f"#{ids.UPLOAD} input[type=file]").send_keys(str(path))
    wait_for(driver, lambda d: name in text_of(d, ids.FILE_SUMMARY), 30)


def click(driver, element_id: str) -> None:
    button = wait_for(driver, lambda d: [b for b in d.find_elements(By.ID, element_id) if b.is_enabled()], 30)[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    time.sleep(0.3)  # the grids above may still be growing
    try:
        button.click()
    except Exception as exc:  # noqa: BLE001 - say what covers it
        raise AssertionError(f"{element_id} could not be clicked: {str(exc).splitlines()[0][:400]}") from None


def check_and_wait(driver, expected: str, worker) -> str:
    click(driver, ids.CHECK)
    return wait_until_text(driver, ids.CHECK_STATUS, expected, worker)


def wait_until_text(driver, element_id: str, expected: str, worker, timeout: float = 60) -> str:
    from tests.celery_worker import output_tail

    try:
        wait_for(driver, lambda d: expected in text_of(d, element_id), timeout)
    except Exception:
        raise AssertionError(f"{element_id} never said {expected!r} (it says {text_of(driver, element_id)!r}); "
                             f"worker said: {output_tail(worker)}") from None
    return text_of(driver, element_id)


def pick(driver, dropdown_id: str, label: str) -> None:
    """Choose the option starting with ``label`` in the dcc.Dropdown ``dropdown_id`` (a JSON id for a pattern)."""
    driver.find_element(By.CSS_SELECTOR, f"[id='{dropdown_id}']").click()
    option = wait_for(driver, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option, [role='option']")
                                      if o.text.strip().startswith(label)])
    option[0].click()


def open_page(dash_duo, users) -> object:
    dash_duo.start_server(dash_duo.import_app, navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1280, 1500)
    browser_sign_in(driver, dash_duo.server.url, "/import", "admin", users["admin"])
    try:
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.UPLOAD} input[type=file]"))
    except Exception:
        raise AssertionError(f"the page did not draw its file input: {driver.current_url} "
                             f"{driver.find_element(By.TAG_NAME, 'body').text[:500]!r} {str(driver.get_log('browser'))[:1000]}") from None
    return driver


def history_row(driver, filename: str) -> list:
    return [r for r in driver.find_elements(By.CSS_SELECTOR, f"#{ids.HISTORY_GRID} .ag-center-cols-container .ag-row")
            if filename in r.text]


def test_a_clean_file_goes_in_a_bad_one_writes_nothing_and_an_undo_takes_it_out(dash_duo, import_app, users, worker,
                                                                                 tmp_path, screenshot_dir):
    dash_duo.import_app = import_app
    driver = open_page(dash_duo, users)
    driver.save_screenshot(str(screenshot_dir / "import_1_empty.png"))

    choose_file(driver, tmp_path, "desk-signals.csv", CLEAN)
    assert "Signals" in text_of(driver, ids.DETECTED)
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"#{ids.PREVIEW_GRID} .ag-row")) == 3)
    driver.save_screenshot(str(screenshot_dir / "import_2_mapped.png"))
    verdict = check_and_wait(driver, "All 3 rows check out", worker)
    assert "3 new" in verdict and signals(import_app) == 0
    click(driver, ids.COMMIT)
    summary = wait_until_text(driver, ids.SUMMARY, "Committed 3 rows", worker)
    assert "3 inserted, 0 updated, 0 unchanged" in summary and "Signal sender" in summary
    driver.save_screenshot(str(screenshot_dir / "import_3_committed.png"))
    assert_accessible(driver, "the commit's summary")
    assert signals(import_app) == 3

    client = signed_in(import_app, "admin", users["admin"])
    doc = client.get("/api/v1/dashboards/signal-sender?strategy_name=Alpha&time_range=all").get_json()
    assert doc["performance"]["total_signals_sent"] == 3 and doc["performance"]["signals_rejected"] == 1
    driver.find_element(By.ID, ids.SUMMARY).find_element(By.LINK_TEXT, "Signal sender").click()
    wait_for(driver, lambda d: text_of(d, sender_ids.kpi("total_signals_sent")).strip() == "3", 30)
    driver.save_screenshot(str(screenshot_dir / "import_3b_signal_sender.png"))
    driver.back()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.UPLOAD} input[type=file]"))

    choose_file(driver, tmp_path, "bad-signals.csv", BAD)
    verdict = check_and_wait(driver, "1 bad row.", worker)
    assert "Nothing was written" in verdict
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ids.PROBLEMS_GRID} .ag-row"))
    row = driver.find_element(By.CSS_SELECTOR, f"#{ids.PROBLEMS_GRID} .ag-center-cols-container .ag-row").text
    assert "4" in row.split() and "side" in row and "BYU" in row, row
    assert not driver.find_element(By.ID, ids.COMMIT).is_enabled()
    href = driver.find_element(By.ID, ids.PROBLEMS_DOWNLOAD).get_attribute("href")
    csv_text = client.get(href.replace(dash_duo.server.url.rstrip("/"), "")).get_data(as_text=True)
    assert csv_text.splitlines()[1].startswith("signals,3,4,side,"), csv_text
    driver.save_screenshot(str(screenshot_dir / "import_4_bad_row.png"))
    assert signals(import_app) == 3
    assert_accessible(driver, "the bad row's verdict, light")
    switch_theme(driver, "dark")
    driver.save_screenshot(str(screenshot_dir / "import_4b_bad_row_dark.png"))
    assert_accessible(driver, "the bad row's verdict, dark")
    schemes = driver.execute_script("return [...document.querySelectorAll('.ag-root-wrapper')]"
                                    ".map(el => getComputedStyle(el).colorScheme)")
    assert schemes and set(schemes) == {"dark"}  # the grids' own scrollbars dark too, not white bars
    switch_theme(driver, "light")

    click(driver, ids.HISTORY_REFRESH)
    row = wait_for(driver, lambda d: history_row(d, "desk-signals.csv"))[0]
    assert "committed" in row.text and "3 / 0 / 0" in row.text
    row.find_element(By.CSS_SELECTOR, ".ag-selection-checkbox, input[type=checkbox]").click()
    click(driver, ids.UNDO)
    wait_until_text(driver, ids.UNDO_STATUS, "undone", worker)
    driver.save_screenshot(str(screenshot_dir / "import_5_undone.png"))
    assert signals(import_app) == 0
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_other_column_names_go_in_through_a_saved_mapping_and_the_ibkr_sample_imports(dash_duo, import_app, users,
                                                                                       worker, tmp_path, screenshot_dir):
    dash_duo.import_app = import_app
    driver = open_page(dash_duo, users)
    choose_file(driver, tmp_path, "my-sheet.csv", OWN_NAMES)
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"#{ids.PREVIEW_GRID} .ag-row")) == 2)
    # "When" is no name tradeboard knows for a signal's time: the user picks it
    pick(driver, '{"field":"received_time","type":"import-map-field"}', "When")
    driver.find_element(By.ID, ids.PRESET_NAME).send_keys("My sheet")
    click(driver, ids.SAVE_PRESET)
    wait_until_text(driver, ids.PRESET_STATUS, "Saved", worker)

    choose_file(driver, tmp_path, "my-sheet-next-week.csv", OWN_NAMES.replace("o1,", "o3,").replace("o2,", "o4,"))
    pick(driver, ids.PRESET, "My sheet")
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, f"#{ids.PREVIEW_GRID} .ag-row")) == 2)
    driver.save_screenshot(str(screenshot_dir / "import_6_preset.png"))
    check_and_wait(driver, "All 2 rows check out", worker)
    click(driver, ids.COMMIT)
    wait_until_text(driver, ids.SUMMARY, "Committed 2 rows", worker)
    with import_app.server.extensions["tradeboard"].engine.connect() as conn:
        stored = conn.execute(select(m.Signal.signal_id, m.Strategy.name).join(m.Strategy)).all()
    assert sorted(stored) == [("o3", "Beta"), ("o4", "Beta")]

    choose_file(driver, tmp_path, "flex-trades.csv", SAMPLE.read_bytes())
    assert "Interactive Brokers" in text_of(driver, ids.DETECTED)
    pick(driver, ids.STRATEGY, "Alpha")
    check_and_wait(driver, "All 5 rows check out", worker)
    click(driver, ids.COMMIT)
    summary = wait_until_text(driver, ids.SUMMARY, "Committed 5 rows", worker)
    assert "Executions (fills): 5 inserted" in summary and "Signals: 4 inserted" in summary
    driver.save_screenshot(str(screenshot_dir / "import_7_ibkr.png"))
    with import_app.server.extensions["tradeboard"].engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.ClosedTrade)).scalar() == 3
    driver.set_window_size(390, 900)
    driver.save_screenshot(str(screenshot_dir / "import_8_phone.png"))
    assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
