"""The import page's history: past imports (an admin sees everyone's, others their own) and the
undo of the one selected, queued on a worker and followed until it is done or refused."""

from __future__ import annotations

import logging

import dash
from dash import Input, Output, State

from callbacks.common import current_user
from callbacks.import_render import alert
from data_access.db import current_engine
from data_access.imports import jobs
from data_access.imports.access import may_import, may_see
from layouts import import_ids as ids
from layouts.import_ids import ENTITY_LABELS

log = logging.getLogger(__name__)


def _note(row: dict) -> str:
    if row["status"] == "committed" and not row["undoable"]:
        return row["message"] or "Cannot be undone."
    if row["status"] == "committed":
        return row["message"] or "Only added rows: can be undone."
    if row["status"] == "invalid":
        return f"{row['problem_count'] or 0:,} problems: nothing written"
    return row["message"] or ""


def rows_for(user) -> list[dict]:
    listed = jobs.history(current_engine(), None if user.role == "admin" else user.id)
    return [{"id": r["id"], "created_at": r["created_at"].strftime("%Y-%m-%d %H:%M:%S") if r["created_at"] else "",
             "username": r["username"], "filename": r["filename"],
             "entity": ENTITY_LABELS.get(r["entity"], r["entity"] or "") + (f" ({r['preset']})" if r["preset"] else ""),
             "status": r["status"],
             "rows": r["rows"], "undoable": bool(r["undoable"]) and r["status"] == "committed",
             "counts": " \u00b7 ".join(f"{c['inserted']:,} / {c['updated']:,} / {c['unchanged']:,}"
                                       for c in (r["counts"] or {}).values()),
             "note": _note(r)} for r in listed]


def register(app: dash.Dash) -> None:
    @app.callback(Output(ids.HISTORY_GRID, "rowData"), Output(ids.HISTORY_POLL, "disabled"),
                  Output(ids.UNDO_STATUS, "children", allow_duplicate=True), Output(ids.UNDO_PENDING, "data"),
                  Output(ids.error("history"), "children"), Input(ids.HISTORY_REFRESH, "n_clicks"), Input(ids.HISTORY_POLL, "n_intervals"),
                  Input(ids.SUMMARY, "children"), Input(ids.CHECK_STATUS, "children"), State(ids.UNDO_PENDING, "data"),
                  prevent_initial_call="initial_duplicate")
    def history(*args):
        pending = args[-1]
        user = current_user()
        if not may_import(user):
            return [], True, dash.no_update, None, None
        try:
            rows = rows_for(user)
        except Exception as exc:  # noqa: BLE001 - the panel says so; the next refresh tries again
            log.warning("import history: %s: %s", type(exc).__name__, exc)
            return (dash.no_update, dash.no_update, dash.no_update, pending,
                    alert(f"Could not read past imports ({type(exc).__name__}): try Refresh in a moment.", "danger"))
        message = dash.no_update
        done = next((r for r in rows if r["id"] == pending and r["status"] not in jobs.ACTIVE), None)
        if done is not None:
            message = (alert(f"Import #{done['id']} undone: its rows are gone and positions and trades are derived "
                              "again.", "success") if done["status"] == "undone"
                       else alert(f"Import #{done['id']} was not undone: {done['note']}", "warning"))
            pending = None
        return rows, not any(r["status"] in jobs.ACTIVE for r in rows), message, pending, None

    @app.callback(Output(ids.UNDO_STATUS, "children"), Output(ids.HISTORY_POLL, "disabled", allow_duplicate=True),
                  Output(ids.UNDO_PENDING, "data", allow_duplicate=True), Input(ids.UNDO, "n_clicks"), State(ids.HISTORY_GRID, "selectedRows"), prevent_initial_call=True)
    def undo(_clicks, selected):
        user = current_user()
        if not may_import(user):
            return alert("Your role may not undo imports.", "warning"), True, None
        if not selected:
            return alert("Select an import in the grid first.", "secondary"), dash.no_update, dash.no_update
        record = jobs.get(current_engine(), int(selected[0]["id"]))
        if not may_see(user, record):
            return alert("That import is not yours.", "warning"), True, None
        if record["status"] != "committed":
            return (alert(f"Only a committed import can be undone; this one is {record['status']}.", "warning"), True,
                    None)
        if not selected[0].get("undoable"):
            return alert(record["message"] or "This import cannot be undone.", "warning"), True, None
        try:
            from tasks import imports as tasks

            tasks.undo_import.delay(record["id"])
        except Exception as exc:  # noqa: BLE001
            log.warning("import %s: could not queue the undo: %s", record["id"], exc)
            return alert("The job queue (Redis) cannot be reached: nothing was done; try again.", "danger"), True, None
        return alert(f"Undoing import #{record['id']} ({record['filename']})\u2026", "info"), False, record["id"]
