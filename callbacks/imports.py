"""The import page's steps: the upload (a clientside callback posting the bytes to /import/upload),
the entity and column mapping with its preview, presets, the whole-file check and the commit, each
queued on a worker and followed through the import's status and progress. Every callback checks the
user's role (admin, ingest, developer) and that the import is theirs."""

from __future__ import annotations

import logging
import time

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html

from callbacks import import_render
from callbacks.common import current_user
from callbacks.import_render import alert
from data_access import models as m
from data_access.db import current_engine
from data_access.imports import ibkr, jobs, mapping, presets
from data_access.imports.access import may_import, may_see
from data_access.imports.progress import read as read_progress
from data_access.imports.progress import shared_redis
from data_access.ingest import ENTITIES
from layouts import components
from layouts import import_ids as ids
from layouts.import_ids import ENTITY_LABELS

log = logging.getLogger(__name__)
NOT_ALLOWED = "Your role may not import: admins, ingest accounts and developers (their own strategies) may."
PROBLEM_GRID_ROWS = 50_000  # the grid shows this many bad fields; the CSV has every one
def failed(what: str, exc: Exception) -> dbc.Alert:
    log.warning("import page: could not %s: %s: %s", what, type(exc).__name__, exc)
    return alert(f"Could not {what} ({type(exc).__name__}): the database or Redis may be unreachable; "
                 "try again in a moment.")


def own_record(import_id) -> dict | None:
    """The import, if the signed-in user may work on it."""
    if not import_id:
        return None
    record = jobs.get(current_engine(), int(import_id))
    return record if may_see(current_user(), record) else None


def queue(task_name: str, import_id: int) -> None:
    from tasks import imports as tasks

    getattr(tasks, task_name).delay(import_id)


def field_dropdowns(entity: str, columns: list[str], chosen: dict) -> list:
    options = [{"label": c, "value": c} for c in columns]
    out = []
    for field in ENTITIES[entity].fields:
        if field.required and not chosen.get(field.name):
            note = html.Span(" required: choose its column", className="text-danger small fw-semibold")
        else:
            note = html.Span(" required" if field.required else " optional", className="text-body-secondary small")
        label = [html.Code(field.name), note]
        dropdown_id = {"type": ids.MAP_FIELD, "field": field.name}
        out.append(html.Div([components.field_label(label, dropdown_id, class_name="mb-0"),
                             dcc.Dropdown(id=dropdown_id, options=options, value=chosen.get(field.name),
                                          placeholder="(not in the file)", clearable=True)]))
    return out


def preset_options() -> list[dict]:
    with current_engine().connect() as conn:
        return [{"label": p["name"] + ("" if p["builtin"] else f"  ({ENTITY_LABELS[p['entity']]})"),
                 "value": p["name"]} for p in presets.names(conn)]


def strategy_options() -> list[dict]:
    from sqlalchemy import select

    user = current_user()
    query = select(m.Strategy.name).order_by(m.Strategy.name)
    if user.role == "developer":
        query = query.where(m.Strategy.developer_id == user.id)
    with current_engine().connect() as conn:
        return [{"label": n, "value": n} for n in conn.execute(query).scalars()]


def register(app: dash.Dash) -> None:
    app.clientside_callback(
        dash.ClientsideFunction(namespace="tradeboard_import", function_name="upload"),
        Output(ids.CURRENT, "data"), Output(ids.UPLOAD, "contents"), Output(ids.UPLOAD_STATUS, "children"),
        Input(ids.UPLOAD, "contents"), State(ids.UPLOAD, "filename"),
        prevent_initial_call=True,
    )

    @app.callback(Output(ids.ROLE_NOTE, "children"), Output(ids.UPLOAD, "disabled"), Input(ids.CURRENT, "data"))
    def role_note(_):
        if may_import(current_user()):
            return None, False
        return alert(NOT_ALLOWED, "warning"), True

    @app.callback(
        Output(ids.FILE_SUMMARY, "children"), Output(ids.MAP_STEP, "hidden"), Output(ids.ENTITY, "value"),
        Output(ids.PRESET, "value"), Output(ids.PRESET, "options"), Output(ids.DETECTED, "children"),
        Output(ids.STRATEGY, "options"), Output(ids.CHECK_STEP, "hidden"), Output(ids.POLL, "disabled"),
        Output(ids.error("upload"), "children"), Output(ids.PRESET_STATUS, "children", allow_duplicate=True),
        Input(ids.CURRENT, "data"), prevent_initial_call=True,
    )
    def show_file(current):
        try:
            shown = _show_file(current)
        except Exception as exc:  # noqa: BLE001 - the panel says so; the page goes on
            nothing = (None, True, *[dash.no_update] * 5, True, True)
            return *nothing, failed("read the uploaded file", exc), None
        return *shown, None

    def _show_file(current):
        nothing = (None, True, dash.no_update, dash.no_update, dash.no_update, None, dash.no_update, True, True)
        if not may_import(current_user()):
            return *nothing, alert(NOT_ALLOWED, "warning")
        if current and current.get("error"):
            return *nothing, alert(current["error"])
        record = own_record((current or {}).get("id"))
        if record is None:
            return *nothing, alert("That import is not yours, or no longer exists.")
        detected = (f"Recognised as {record['preset']}" if record["preset"] else
                    f"Detected from its columns: {ENTITY_LABELS[record['entity']]}")
        summary = html.Div([html.Strong(record["filename"]), f" · {import_render.size(record['size_bytes'])} · "
                            f"{len(record['columns'])} columns: ", html.Span(", ".join(record["columns"][:30]),
                                                                            className="text-body-secondary")],
                           className="small")
        running = record["status"] in jobs.ACTIVE
        return (summary, False, record["entity"], record["preset"], preset_options(), detected, strategy_options(),
                record["status"] == "uploaded", not running, None)

    @app.callback(Output(ids.ENTITY, "value", allow_duplicate=True), Input(ids.PRESET, "value"),
                  prevent_initial_call=True)
    def preset_entity(preset):
        if not preset or not may_import(current_user()):
            return dash.no_update
        with current_engine().connect() as conn:
            found = presets.get(conn, preset)
        return found["entity"] if found else dash.no_update

    @app.callback(Output(ids.MAPPING, "children"), Output(ids.IBKR_OPTIONS, "hidden"),
                  Input(ids.ENTITY, "value"), Input(ids.PRESET, "value"), State(ids.CURRENT, "data"),
                  prevent_initial_call=True)
    def mapping_step(entity, preset, current):
        record = own_record((current or {}).get("id"))
        if record is None or entity not in ENTITIES:
            return [], True
        if preset == ibkr.NAME:
            rows = [html.Div([html.Code(f), " \u2190 ", html.Span(source)]) for f, source in ibkr.SOURCES.items()]
            return rows, False
        chosen = None
        if preset:
            with current_engine().connect() as conn:
                found = presets.get(conn, preset)
            if found and found["entity"] == entity:
                chosen = {f: c for f, c in found["mapping"].items() if c in record["columns"]}
        if chosen is None:
            same = entity == record["entity"] and record["mapping"] and not record["preset"]
            chosen = record["mapping"] if same else mapping.guess(ENTITIES[entity], record["columns"])
        return field_dropdowns(entity, record["columns"], chosen), True

    @app.callback(
        Output(ids.PREVIEW_GRID, "columnDefs"), Output(ids.PREVIEW_GRID, "rowData"), Output(ids.PREVIEW_NOTE, "children"),
        Output(ids.error("map"), "children"), Output(ids.CHECK_STEP, "hidden", allow_duplicate=True),
        Input({"type": ids.MAP_FIELD, "field": ALL}, "value"), Input(ids.STRATEGY, "value"), Input(ids.TIMEZONE, "value"),
        State({"type": ids.MAP_FIELD, "field": ALL}, "id"), State(ids.ENTITY, "value"), State(ids.PRESET, "value"),
        State(ids.CURRENT, "data"), prevent_initial_call=True,
    )
    def preview(values, strategy, timezone, field_ids, entity, preset, current):
        record = own_record((current or {}).get("id"))
        if record is None or entity not in ENTITIES:
            return [], [], None, None, dash.no_update
        if record["status"] in jobs.ACTIVE + jobs.FINISHED:
            return dash.no_update, dash.no_update, None, None, dash.no_update
        field_map = {i["field"]: v for i, v in zip(field_ids, values) if v and i["field"] in ENTITIES[entity].field_names}
        options = {"strategy_name": strategy, "timezone": timezone} if preset == ibkr.NAME else {}
        try:
            changed = jobs.configure(current_engine(), record["id"], entity, {} if preset == ibkr.NAME else field_map,
                                     preset, options)
            with current_engine().connect() as conn:
                columns, rows, problems = jobs.preview(conn, jobs.get(conn, record["id"]))
        except jobs.ImportStateError as exc:
            return [], [], None, alert(str(exc)), dash.no_update
        except Exception as exc:  # noqa: BLE001
            return [], [], None, failed("preview the file", exc), dash.no_update
        defs = [{"field": c, "headerName": c} for c in columns]
        note = None
        if problems:
            first = "; ".join(f"row {p['row']}: {p['field']} {p['message']}" if p["row"] else f"{p['field']} {p['message']}"
                              for p in problems[:3])
            note = alert(f"{import_render.plural(len(problems), 'problem')} in these first rows: {first}", "warning")
        return defs, rows, note, None, True if changed else dash.no_update  # a new choice needs a new check

    @app.callback(Output(ids.PRESET_STATUS, "children"), Output(ids.PRESET, "options", allow_duplicate=True),
                  Input(ids.SAVE_PRESET, "n_clicks"), State(ids.PRESET_NAME, "value"), State(ids.CURRENT, "data"),
                  prevent_initial_call=True)
    def save_preset(_clicks, name, current):
        user = current_user()
        record = own_record((current or {}).get("id"))
        if record is None:
            return alert(NOT_ALLOWED if not may_import(user) else "Upload a file first.", "warning"), dash.no_update
        if record["preset"] == ibkr.NAME:
            return alert("The IBKR preset ships with tradeboard: there is nothing to save.", "info"), dash.no_update
        try:
            with current_engine().begin() as conn:
                presets.save(conn, name, record["entity"], record["mapping"] or {}, user.username,
                             admin=user.role == m.Role.ADMIN.value)
        except presets.PresetError as exc:
            return alert(str(exc)), dash.no_update
        return alert(f"Saved \u201c{name.strip()}\u201d: pick it for the next file like this one.", "success"), preset_options()

    @app.callback(Output(ids.CHECK_STEP, "hidden", allow_duplicate=True), Output(ids.POLL, "disabled", allow_duplicate=True),
                  Output(ids.error("check"), "children"),
                  Input(ids.CHECK, "n_clicks"), State(ids.CURRENT, "data"), prevent_initial_call=True)
    def start_check(_clicks, current):
        return start(current, "checking", ("uploaded", "valid", "invalid", "failed"), "check_import")

    @app.callback(Output(ids.CHECK_STEP, "hidden", allow_duplicate=True), Output(ids.POLL, "disabled", allow_duplicate=True),
                  Output(ids.error("check"), "children", allow_duplicate=True),
                  Input(ids.COMMIT, "n_clicks"), State(ids.CURRENT, "data"), prevent_initial_call=True)
    def start_commit(_clicks, current):
        return start(current, "committing", ("valid",), "commit_import")

    @app.callback(
        Output(ids.CHECK_STATUS, "children"), Output(ids.PROBLEMS_GRID, "columnDefs"), Output(ids.PROBLEMS_GRID, "rowData"),
        Output(f"{ids.PROBLEMS_GRID}-box", "hidden"), Output(ids.PROBLEMS_DOWNLOAD, "href"),
        Output(ids.PROBLEMS_DOWNLOAD, "hidden"), Output(ids.COMMIT, "disabled"), Output(ids.PROGRESS, "value"),
        Output(ids.PROGRESS, "label"), Output(ids.PROGRESS, "className"), Output(ids.PROGRESS_LABEL, "children"),
        Output(ids.SUMMARY, "children"), Output(ids.POLL, "disabled", allow_duplicate=True),
        Output(ids.error("check"), "children", allow_duplicate=True),
        Input(ids.POLL, "n_intervals"), Input(ids.CHECK_STEP, "hidden"), State(ids.CURRENT, "data"),
        prevent_initial_call=True,
    )
    def follow(_ticks, _hidden, current):
        try:
            record = own_record((current or {}).get("id"))
            if record is None:
                return (None, [], [], True, "", True, True, 0, "", "d-none", None, None, True, None)
            report = read_progress(shared_redis(), record["id"]) if record["status"] in jobs.ACTIVE else None
            return *render_state(record, report), None
        except Exception as exc:  # noqa: BLE001 - keep polling: the job goes on on its worker
            return *[dash.no_update] * 13, failed("read the import's state", exc)


def start(current, status: str, allowed: tuple[str, ...], task: str):
    """Move the import on and queue its job; one click, one job."""
    record = own_record((current or {}).get("id"))
    if record is None:
        return dash.no_update, dash.no_update, alert(NOT_ALLOWED if not may_import(current_user()) else
                                                     "Upload a file first.", "warning")
    try:
        jobs.mark(current_engine(), record["id"], status, allowed)
    except jobs.ImportStateError as exc:
        return False, dash.no_update, alert(str(exc), "warning")
    try:
        queue(task, record["id"])
    except Exception as exc:  # noqa: BLE001 - no broker: say so, and let the user try again
        log.warning("import %s: could not queue %s: %s", record["id"], task, exc)
        jobs.mark(current_engine(), record["id"], "failed", (status,))
        return False, True, alert("The job queue (Redis) cannot be reached: nothing was done; try again.")
    return False, False, None


def render_state(record: dict, report: dict | None) -> tuple:
    problems = jobs.problems(current_engine(), record["id"]) if record["status"] == "invalid" else []
    return import_render.render(record, report, problems[:PROBLEM_GRID_ROWS], len(problems), time.time())
