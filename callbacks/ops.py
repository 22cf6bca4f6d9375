"""What reacts on the operations page. Admins and analysts may view it; its controls (refresh every
dashboard, clear a data family) are refused in their callbacks for anyone but an admin."""

from __future__ import annotations

import datetime as dt
import logging
import time

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from callbacks import common, ops_figures
from callbacks.common import current_user
from data_access.book import book_contents
from layouts import components
from layouts import ops_ids as ids

log = logging.getLogger(__name__)

OPS_ROLES = {"admin", "analyst"}
MONITOR_EXTENSION = "tradeboard.monitor"  # app.monitoring.EXTENSION_KEY
ERROR_PARTS = {**ids.PANELS, "p95": "requests", "hit-rate": "family_stats"}  # error slot -> snapshot part


def may_view() -> bool:
    user = current_user()
    return user is not None and user.role in OPS_ROLES


def is_admin() -> bool:
    user = current_user()
    return user is not None and user.is_admin


def _app_state():
    return flask.current_app.extensions["tradeboard"]


def load_snapshot() -> dict:
    # the app's monitoring (app.monitoring) builds it; a page reaches it through the app's extensions
    doc = flask.current_app.extensions[MONITOR_EXTENSION]["monitor"].snapshot()
    now = dt.datetime.now(dt.UTC).isoformat()
    doc["sections"] = {part: {"computed_at": now, "cached": False, "stale": False} for part in ids.PANELS.values()}
    return doc


# --------------------------------------------------------------------------- formatting


def utc_text(ts: float | None) -> str | None:
    if not ts:
        return None
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def ago_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def until_text(ts: float | None, now: float) -> str:
    if not ts:
        return "—"
    left = ts - now
    if left <= 0:
        return "due"
    if left < 90:
        return f"in {left:.0f} s"
    if left < 5400:
        return f"in {left / 60:.0f} min"
    return f"in {left / 3600:.1f} h"


def _state(text: str, ok: bool | None) -> html.Span:
    tone = "text-success" if ok else "text-body-secondary" if ok is None else "text-danger"
    return html.Span(text, className=tone)


def health_values(doc: dict) -> tuple[list, list]:
    health, cache = doc["health"], doc["cache"]
    database, redis_check, workers = health["database"], health["redis"], health["workers"]
    beat = health.get("beat") or {}
    values = {
        "database": (_state("up" if database["ok"] else "down", database["ok"]),
                     f"{database.get('dialect', '')} · {database['latency_ms']} ms" if database["ok"]
                     else database.get("error", "")),
        "redis": (_state("up" if redis_check["ok"] else "down", redis_check["ok"]),
                  f"ping {redis_check['latency_ms']} ms" if redis_check["ok"] else redis_check.get("error", "")),
        "workers": (_state(str(workers.get("count", 0)), workers["ok"]),
                    f"heartbeat {ago_text(workers['last_seen_seconds_ago'])}" if workers["ok"]
                    else workers.get("error") or "no heartbeat"),
        "beat": (_state("alive" if beat.get("ok") else "silent" if beat.get("last_seen") else "not seen",
                        beat.get("ok")),
                 f"pulse {ago_text(beat.get('last_seen_seconds_ago'))}" if beat.get("last_seen")
                 else beat.get("error") or "no pulse recorded"),
        "cache": (_state("degraded" if cache["degraded"] else "ok" if cache["enabled"] else "off",
                         not cache["degraded"] and cache["enabled"]),
                  f"from the database for {cache['degraded_for_seconds']:.0f} s" if cache["degraded"]
                  else "Redis section cache" if cache["enabled"] else "CACHE_TYPE=NullCache"),
    }
    keys = [key for key, _label, _definition in ids.HEALTH_CARDS]
    return [values[k][0] for k in keys], [html.Span(values[k][1], className="text-body-secondary") for k in keys]


def request_rows(doc: dict) -> list[dict]:
    rows = []
    for row in doc["requests"]:
        out = {k: row[k] for k in ("endpoint", "count", "errors", "client_errors", "slow", "total_count")}
        for name in ("p50", "p95", "p99", "max"):
            value = row.get(f"{name}_seconds")
            out[f"{name}_ms"] = None if value is None else round(value * 1000.0, 2)
        rows.append(out)
    return sorted(rows, key=lambda r: (-(r["count"] or 0), r["endpoint"]))


def family_rows(doc: dict) -> list[dict]:
    generations = doc["cache_keys"].get("generations") or {}
    return [{**row, "hit_rate_pct": None if row["hit_rate"] is None else round(row["hit_rate"] * 100.0, 1),
             "generation": generations.get(row["family"], 0)} for row in doc["family_stats"]]


def task_rows(doc: dict, now: float) -> list[dict]:
    return [{**row, "task_short": row["task"].rsplit(".", 1)[-1], "last_start_text": utc_text(row.get("last_start")),
             "last_success_text": utc_text(row.get("last_success")),
             "next_run_text": until_text(row.get("next_run"), now) if row.get("entry") else "on demand"}
            for row in doc["tasks"]]


def run_rows(doc: dict) -> list[dict]:
    return [{**run, "task_short": (run.get("task") or "").rsplit(".", 1)[-1],
             "finished_text": utc_text(run.get("finished"))} for run in doc["recent_runs"]]


def key_rows(doc: dict) -> list[dict]:
    rows = []
    for row in doc["cache_keys"]["keys"]:
        state = "superseded" if not row["current"] else "?" if row["fresh"] is None else \
            "fresh" if row["fresh"] else "stale"
        rows.append({**row, "state": state})
    return rows


def keys_note(doc: dict) -> str:
    info = doc["cache_keys"]
    count = len(info["keys"])
    more = f" (the first {info['limit']}; there are more)" if info["truncated"] else ""
    return (f"{count} cached sections{more}. Age = how long ago the value was computed; a section is kept "
            "two TTLs: fresh for the first, served stale while refreshing in the second. Superseded: a "
            "family it reads was bumped, so it will not be read again.")


def _error(doc: dict, part: str):
    message = (doc.get("errors") or {}).get(part) or (doc.get("errors") or {}).get("redis")
    if not message:
        return None
    return dbc.Alert(f"Not available: {message}", color="danger", className="py-1 px-2 mb-0 small")


# --------------------------------------------------------------------------- callbacks


def empty_book(doc: dict | None):
    """Over an empty book, a note that the dashboards have nothing to show yet (this page's figures are the
    system's own, so they stay)."""
    if not doc or any(book_contents().values()):
        return None
    return components.empty_state(
        "The book is empty",
        "The figures below are the system's own (requests, cache, tasks); the dashboards have nothing to show "
        "until the desk's records come in.",
        [["Send them to ", html.Code("POST /api/v1/ingest/<entity>"), " or run ",
          html.Code("tradeboard import ENTITY FILE"), " — the home page lists the order, and ", html.Code("examples/"),
          " has a sample file for each."]])


def register(app: dash.Dash) -> None:
    common.register_refresh_interval(app, ids.REFRESH_EVERY, ids.TICK)

    @app.callback(
        Output(ids.DOCUMENT, "data"),
        Output(ids.STATUS, "children"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.REFRESH_NOW, "n_clicks"),
        Input(ids.ACTION_DONE, "data"),
    )
    def load_document(_ticks, _clicks, _actions):
        if not may_view():
            return None, dbc.Alert("Only admins and analysts may see the operations page.", color="warning")
        try:
            return load_snapshot(), None
        except Exception as exc:  # noqa: BLE001 - keep what is shown and say why
            log.exception("ops: cannot read the figures")
            return dash.no_update, dbc.Alert(f"Could not read the figures: {exc}", color="danger", dismissable=True)

    health_outputs = [Output(ids.health_value(key), "children") for key, _l, _d in ids.HEALTH_CARDS]
    health_subs = [Output(ids.health_sub(key), "children") for key, _l, _d in ids.HEALTH_CARDS]
    error_outputs = [Output(ids.error(panel), "children") for panel in ERROR_PARTS]

    @app.callback(
        *health_outputs, *health_subs, *error_outputs,
        Output(ids.WINDOW_NOTE, "children"),
        Output(ids.REQUESTS_GRID, "rowData"),
        Output(ids.P95_CHART, "figure"),
        Output(ids.FAMILIES_GRID, "rowData"),
        Output(ids.HIT_RATE_CHART, "figure"),
        Output(ids.TASKS_GRID, "rowData"),
        Output(ids.RUNS_GRID, "rowData"),
        Output(ids.KEYS_GRID, "rowData"),
        Output(ids.KEYS_NOTE, "children"),
        Output(ids.CLEAR_FAMILY, "options"),
        Input(ids.DOCUMENT, "data"),
    )
    def render(doc: dict | None):
        if not doc:
            raise PreventUpdate
        now = time.time()
        values, subs = health_values(doc)
        requests = request_rows(doc)
        window = doc["window_seconds"]
        note = (f"Over the last {window // 60:g} min (counts, percentiles) and since the figures began "
                f"(since start); slow = over {doc['slow_request_seconds']:g} s. Shared by every web process.")
        return (
            *values, *subs, *[_error(doc, part) for part in ERROR_PARTS.values()],
            note,
            requests,
            ops_figures.p95_figure(requests, doc["slow_request_seconds"] * 1000.0),
            family_rows(doc),
            ops_figures.hit_rate_figure(doc["family_stats"]),
            task_rows(doc, now),
            run_rows(doc),
            key_rows(doc),
            keys_note(doc),
            [{"label": family, "value": family} for family in doc["families"]],
        )

    common.register_empty_state(app, ids.EMPTY, None, [Input(ids.DOCUMENT, "data")], empty_book)
    common.register_freshness_labels(app, ids.DOCUMENT, ids.CLOCK, ids.PANELS, ids.freshness)
    common.register_csv_buttons(app, ids.GRIDS, ids.csv_button)

    @app.callback(
        Output(ids.REFRESH_RESULT, "children"),
        Output(ids.ACTION_DONE, "data", allow_duplicate=True),
        Input(ids.REFRESH_DASHBOARDS, "n_clicks"),
        State(ids.ACTION_DONE, "data"),
        prevent_initial_call=True,
    )
    def refresh_dashboards(clicks, done):
        if not clicks:
            raise PreventUpdate
        if not is_admin():
            return refused("refresh the dashboards"), dash.no_update
        from data_access.warming import warm_all  # what POST /api/v1/dashboards/refresh runs

        user = current_user()
        report = warm_all(_app_state().settings)
        log.info("ops: %s refreshed every dashboard in %.0f ms", user.username, report["elapsed_ms"])
        built = ", ".join(name.replace("_", " ") for name in report["refreshed"]) or "nothing"
        if report["errors"]:
            failed = "; ".join(f"{name}: {error}" for name, error in report["errors"].items())
            return dbc.Alert(f"Refreshed {built}; failed: {failed}", color="warning", className="py-1 mb-0"), \
                (done or 0) + 1
        return dbc.Alert(f"Refreshed {built} in {report['elapsed_ms'] / 1000.0:,.1f} s "
                         f"(finished {report['finished_at']}).", color="success", className="py-1 mb-0"), \
            (done or 0) + 1

    @app.callback(
        Output(ids.CLEAR_RESULT, "children"),
        Output(ids.ACTION_DONE, "data", allow_duplicate=True),
        Input(ids.CLEAR_FAMILY_BUTTON, "n_clicks"),
        State(ids.CLEAR_FAMILY, "value"),
        State(ids.ACTION_DONE, "data"),
        prevent_initial_call=True,
    )
    def clear_family(clicks, family, done):
        if not clicks:
            raise PreventUpdate
        if not is_admin():
            return refused("clear a cache family"), dash.no_update
        from data_access.cache import KEY_PREFIX, sections

        if not family:
            return dbc.Alert("Choose a family first.", color="secondary", className="py-1 mb-0"), dash.no_update
        if family not in sections.families:
            return dbc.Alert(f"Unknown family {family!r}.", color="danger", className="py-1 mb-0"), dash.no_update
        sections.bump(family)
        generation = None
        if sections.enabled:
            raw = sections.redis.get(f"{KEY_PREFIX}gen:{family}")
            generation = int(raw) if raw else None
        log.info("ops: %s cleared cache family %s (generation %s)", current_user().username, family, generation)
        return dbc.Alert(f"Cleared {family}: generation {generation}; every section reading it is computed again "
                         "on its next read.", color="success", className="py-1 mb-0"), (done or 0) + 1


def refused(what: str) -> dbc.Alert:
    user = current_user()
    role = user.role if user else "anonymous"
    log.warning("ops: refused to %s for %s (%s)", what, getattr(user, "username", "?"), role)
    return dbc.Alert(f"Only admins may {what} (you are signed in as {role}).", color="danger", className="py-1 mb-0")
