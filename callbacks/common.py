"""What every dashboard page's callbacks share: number formatting, per-panel errors, the
auto-refresh interval, "updated N s ago" labels, CSV buttons and the whole-dashboard JSON download."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import dash
import dash_bootstrap_components as dbc
import flask
import orjson
from dash import Input, Output, State
from dash.exceptions import PreventUpdate


def current_user():
    """The signed-in user of the current request (``flask.g.user``, set by the app's guard: `app.auth`),
    or None, also outside a request. Pages read it here and never import the composition root."""
    if not flask.has_request_context():
        return None
    return flask.g.get("user")


def money(value: float | None, signed: bool = False) -> str:
    """$1.23M; ``signed``: a gain carries "+" (a loss always carries "-"), so colour is never the only sign."""
    if value is None:
        return "—"
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    magnitude = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{sign}${magnitude / limit:,.2f}{suffix}"
    return f"{sign}${magnitude:,.2f}"


def pct(value: float | None, digits: int = 1, signed: bool = False) -> str:
    return "—" if value is None else f"{value:{'+' if signed else ''},.{digits}f} %"


def number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def panel_error(doc: dict, section: str):
    """An in-panel alert when ``section`` failed to build, else nothing."""
    message = (doc.get("errors") or {}).get(section)
    if not message:
        return None
    return dbc.Alert(f"This panel could not be loaded: {message}", color="danger", className="py-1 px-2 mb-0 small")


def register_refresh_interval(app: dash.Dash, picker_id: str, tick_id: str) -> None:
    """The auto-refresh picker (seconds, "0" = off) drives the page's ticker."""

    @app.callback(Output(tick_id, "interval"), Output(tick_id, "disabled"), Input(picker_id, "value"))
    def set_refresh_interval(seconds: str):
        seconds = int(seconds or 0)
        return max(seconds, 1) * 1000, seconds == 0


_FRESHNESS_JS = """
function(doc, _clock) {
    const out = [];
    for (const section of PANEL_SECTIONS) {
        const info = doc && doc.sections && doc.sections[section];
        if (!info) { out.push(""); continue; }
        const age = Math.max(0, Math.round((Date.now() - Date.parse(info.computed_at)) / 1000));
        const ago = age < 90 ? age + " s" : Math.round(age / 60) + " min";
        out.push("updated " + ago + " ago · " + (info.stale ? "stale, refreshing" : info.cached ? "cached" : "fresh"));
    }
    return out;
}
"""


def register_freshness_labels(app: dash.Dash, document_id: str, clock_id: str, panels: dict[str, str],
                              freshness_id: Callable[[str], str]) -> None:
    """Per panel "updated 12 s ago · cached" from the document's ``sections``, re-aged in the browser
    on every clock tick. ``panels`` maps a panel key to the document section it shows."""
    app.clientside_callback(
        _FRESHNESS_JS.replace("PANEL_SECTIONS", json.dumps(list(panels.values()))),
        *[Output(freshness_id(panel), "children") for panel in panels],
        Input(document_id, "data"),
        Input(clock_id, "n_intervals"),
    )


def register_csv_buttons(app: dash.Dash, grid_ids: Iterable[str], button_id: Callable[[str], str]) -> None:
    """Each grid's CSV button exports the grid as shown (AG Grid's own export)."""
    for grid_id in grid_ids:
        app.callback(Output(grid_id, "exportDataAsCsv"), Input(button_id(grid_id), "n_clicks"),
                     prevent_initial_call=True)(lambda _n: True)


def register_json_download(app: dash.Dash, download_id: str, button_id: str, document_id: str, *,
                           may_download: Callable[[dict], bool], filename: Callable[[dict], str]) -> None:
    """The page's "JSON" button downloads the document its store holds. The store's content comes
    from the browser, so ``may_download(doc)`` is checked again here: a refused user gets nothing."""

    @app.callback(Output(download_id, "data"), Input(button_id, "n_clicks"), State(document_id, "data"),
                  prevent_initial_call=True)
    def download_json(_clicks, doc):
        if not doc or not may_download(doc):
            raise PreventUpdate
        return {"content": orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode(), "filename": filename(doc),
                "type": "application/json"}


def load_document(build: Callable[[dict], dict]):
    """``(document for a dcc.Store, status alert)`` from ``build(settings)``: when the whole build
    fails the page keeps what it shows and says so; in degraded mode it says the cache is down."""
    try:
        doc = build(flask.current_app.extensions["tradeboard"].settings)
    except Exception as exc:  # e.g. the database is down
        return dash.no_update, dbc.Alert(f"Could not refresh the dashboard: {exc}", color="danger", dismissable=True)
    status = None
    if doc["metadata"]["degraded"]:
        status = dbc.Alert("Cache unavailable: served straight from the database.", color="warning", className="py-1 small")
    return orjson.loads(orjson.dumps(doc)), status


def register_empty_state(app: dash.Dash, empty_id: str, body_id: str | None, inputs: list,
                         state: Callable[..., object]) -> None:
    """The page's empty state: ``state(*input values)`` is a components.empty_state (then the page's body,
    when it names one, is hidden: no empty charts or dashes) or None (the body shows, the empty state goes)."""
    outputs = [Output(empty_id, "children")] + ([Output(body_id, "hidden")] if body_id else [])

    @app.callback(*outputs, *inputs)
    def show_empty_state(*values):
        shown = state(*values)
        return (shown, shown is not None) if body_id else shown
