"""The import page's routes and callbacks, role by role: who may upload, whose imports one sees, an
ingest account reaching the page and nothing else; sizes and formats refused with a clear answer."""

from __future__ import annotations

import io

import openpyxl
import pytest

from app.auth import create_user
from data_access.imports import jobs
from tests.conftest import build_app, log_in
from tests.imports.test_import_jobs import SIGNALS
from tests.ingest_books import with_strategies

ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture
def import_app(app_settings):
    dash_app = build_app(app_settings.__class__(**{**app_settings.__dict__, "MAX_IMPORT_BYTES": 10_000}))
    app_state = dash_app.server.extensions["tradeboard"]
    with app_state.session() as session:
        for name, role in (("dev", "developer"), ("feed", "ingest"), ("eve", "developer")):
            create_user(session, name, role, password=f"{name}-password-123")
    with_strategies(app_state.engine)
    yield dash_app
    app_state.engine.dispose()


def client_of(dash_app, username: str, password: str | None = None):
    client = dash_app.server.test_client()
    assert log_in(client, username, password or f"{username}-password-123").status_code == 303
    return client


def upload(client, name: str, data: bytes):
    return client.post(f"/import/upload?filename={name}", data=data, headers={**ORIGIN,
                       "Content-Type": "application/octet-stream"})


def test_an_admin_uploads_and_the_entity_is_detected(import_app, users):
    answer = upload(client_of(import_app, "admin", users["admin"]), "signals.csv", SIGNALS)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["entity"] == "signals" and answer.get_json()["columns"][0] == "signal_id"


def test_an_excel_workbook_is_read_like_a_csv(import_app, users):
    book = openpyxl.Workbook()
    sheet = book.active
    for line in SIGNALS.decode().splitlines():
        sheet.append(line.split(","))
    data = io.BytesIO()
    book.save(data)
    client = client_of(import_app, "admin", users["admin"])
    record = upload(client, "signals.xlsx", data.getvalue()).get_json()
    assert record["entity"] == "signals"
    engine = import_app.server.extensions["tradeboard"].engine
    assert jobs.check(engine, record["id"])["counts"]["signals"]["inserted"] == 3


def test_refusals_are_clear_and_store_nothing(import_app, users):
    admin = client_of(import_app, "admin", users["admin"])
    too_big = upload(admin, "big.csv", SIGNALS * 100)
    assert too_big.status_code == 413 and too_big.get_json()["error"]["details"]["max_bytes"] == 10_000
    unknown = upload(admin, "book.pdf", b"%PDF")
    assert unknown.status_code == 400 and ".xlsx" in unknown.get_json()["error"]["message"]
    empty = upload(admin, "empty.csv", b"")
    assert empty.status_code == 400
    analyst = upload(client_of(import_app, "analyst", users["analyst"]), "signals.csv", SIGNALS)
    assert analyst.status_code == 403
    assert jobs.history(import_app.server.extensions["tradeboard"].engine, None) == []


def test_one_sees_ones_own_imports_and_an_admin_sees_all(import_app, users):
    dev = client_of(import_app, "dev")
    record = upload(dev, "mine.csv", SIGNALS).get_json()
    engine = import_app.server.extensions["tradeboard"].engine
    jobs.check(engine, record["id"])
    assert client_of(import_app, "eve").get(f"/import/{record['id']}/problems.csv").status_code == 404
    assert dev.get(f"/import/{record['id']}/problems.csv").status_code == 200
    assert client_of(import_app, "admin", users["admin"]).get(f"/import/{record['id']}/problems.csv").status_code == 200


def test_a_developer_may_not_import_signals_of_strategies_not_theirs(import_app):
    engine = import_app.server.extensions["tradeboard"].engine
    record = upload(client_of(import_app, "dev"), "mine.csv", SIGNALS).get_json()
    jobs.check(engine, record["id"])
    stored = jobs.get(engine, record["id"])
    assert stored["status"] == "invalid" and "own strategies" in stored["message"]


def test_an_ingest_account_reaches_the_import_page_and_its_callbacks_only(import_app):
    feed = import_app.server.test_client()
    assert log_in(feed, "feed", "feed-password-123").headers["Location"] == "/import"
    assert feed.get("/import").status_code == 200
    assert feed.get("/client").status_code == 403
    assert upload(feed, "signals.csv", SIGNALS).status_code == 200

    def callback(output: str, inputs: list):
        return feed.post("/_dash-update-component", json={"output": output, "outputs": [], "inputs": inputs,
                                                          "changedPropIds": []}, headers=ORIGIN)

    assert callback("..client-document.data..", []).status_code == 403
    assert callback("..import-history-grid.rowData...import-history-poll.disabled..", []).status_code != 403


def callback_of(client, input_id: str, inputs: list[dict], state: list | None = None):
    """POST the callback whose first input is ``input_id``, with its outputs as the app registered them."""
    import json

    dependencies = client.get("/_dash-dependencies").get_json()
    [output] = [d["output"] for d in dependencies if d["inputs"] and d["inputs"][0]["id"] == input_id]
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1))) for o in output.strip(".").split("...")]
    payload = {"output": output, "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
               "state": state or [], "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    return client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json",
                       headers=ORIGIN)


def test_every_callback_refuses_a_role_that_may_not_import_and_another_users_import(import_app, users):
    from layouts import import_ids as ids

    admin = client_of(import_app, "admin", users["admin"])
    record = upload(admin, "signals.csv", SIGNALS).get_json()
    current = [{"id": ids.CURRENT, "property": "data", "value": {"id": record["id"]}}]
    engine = import_app.server.extensions["tradeboard"].engine
    for who in (client_of(import_app, "analyst", users["analyst"]), client_of(import_app, "eve")):
        started = callback_of(who, ids.CHECK, [{"id": ids.CHECK, "property": "n_clicks", "value": 1}], current)
        said = started.get_data(as_text=True)
        assert started.status_code == 200 and ("may not import" in said or "Upload a file first" in said), said
        followed = callback_of(who, ids.POLL, [{"id": ids.POLL, "property": "n_intervals", "value": 1},
                                                          {"id": ids.CHECK_STEP, "property": "hidden", "value": False}],
                                   current).get_data(as_text=True)
        assert "signals.csv" not in followed
        history = callback_of(who, ids.HISTORY_REFRESH, [{"id": ids.HISTORY_REFRESH, "property": "n_clicks", "value": 1},
                                                          {"id": ids.HISTORY_POLL, "property": "n_intervals", "value": 1},
                                                          {"id": ids.SUMMARY, "property": "children", "value": None},
                                                          {"id": ids.CHECK_STATUS, "property": "children", "value": None}],
                                  [{"id": ids.UNDO_PENDING, "property": "data", "value": None}])
        assert "signals.csv" not in history.get_data(as_text=True)
    assert jobs.get(engine, record["id"])["status"] == "uploaded", "nobody but its owner started a check"
    admin_history = callback_of(admin, ids.HISTORY_REFRESH, [{"id": ids.HISTORY_REFRESH, "property": "n_clicks", "value": 1},
                                                              {"id": ids.HISTORY_POLL, "property": "n_intervals", "value": 1},
                                                              {"id": ids.SUMMARY, "property": "children", "value": None},
                                                              {"id": ids.CHECK_STATUS, "property": "children", "value": None}],
                                    [{"id": ids.UNDO_PENDING, "property": "data", "value": None}])
    assert "signals.csv" in admin_history.get_data(as_text=True)
