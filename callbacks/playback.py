"""Callbacks of the playback page.

Server side (Python): the run picker and the new-run form (parameters from the engine's schemas; the
same validation and queueing as ``POST /api/v1/playback/live``). The player is clientside
(assets/playback.js): the loader fetches a stored run once, in chunks, from
``/api/v1/playback/runs/<id>/chunk`` (or polls a live run's stream by last-seen id); ``control``,
on each tick of the page's interval and on each control, hands the bars due to the chart
(lightweight-charts, assets/playback_chart.js) and writes the cards and the log into the page, so a
tick returns no Dash output.
"""

from __future__ import annotations

import flask
from dash import ALL, ClientsideFunction, Dash, Input, Output, State, no_update
from dash import html
import dash_bootstrap_components as dbc

from callbacks import common
from layouts import components
from layouts import playback_ids as ids

ROLES = ("admin", "analyst", "developer")


def _role() -> str | None:
    user = getattr(flask.g, "user", None)
    return getattr(user, "role", None)


def param_fields(kind: str | None) -> list:
    from analytics.backtest import strategy_schemas

    schema = next((s for s in strategy_schemas() if s["kind"] == kind), None)
    if schema is None:
        return []
    fields = []
    for p in schema["params"]:
        if p["type"] == "bool":
            control = dbc.Select(id={"type": ids.FORM_PARAM, "name": p["name"]}, value=str(p["default"]).lower(),
                                 options=[{"label": "yes", "value": "true"}, {"label": "no", "value": "false"}],
                                 size="sm")
        else:
            control = dbc.Input(id={"type": ids.FORM_PARAM, "name": p["name"]}, value=p["default"], type="number",
                                min=p["min"], max=p["max"], step=p["step"] or ("any" if p["type"] == "float" else 1),
                                size="sm")
        bounds = "" if p["type"] == "bool" else f" ({p['min']:g} to {p['max']:g})"
        label = components.field_label(p["name"].replace("_", " "), {"type": ids.FORM_PARAM, "name": p["name"]})
        fields.append(dbc.Col(html.Div([label, control],
                                       title=f"{p['description']}{bounds}"), xs=6, md=3))
    return fields


def empty_book(runs: list | None, symbols: list | None, source: dict | None):
    """The page's empty state while there is no stored run to replay and nothing is playing."""
    if runs or source or _role() not in ROLES:
        return None
    return components.empty_state(
        "No backtests to replay yet",
        "Playback replays a stored backtest bar by bar, or runs a new one live.",
        components.backtest_steps("live with the form below", bool(symbols)))


def register(app: Dash) -> None:
    @app.callback(Output(ids.RUN_PICKER, "options"), Output(ids.RUN_PICKER, "value"),
                  Output(ids.FORM_SYMBOL, "options"), Output(ids.FORM_SYMBOL, "value"),
                  Output(ids.FORM_KIND, "options"), Output(ids.FORM_KIND, "value"),
                  Output(ids.SOURCE, "data", allow_duplicate=True),
                  Input(ids.INIT, "data"), prevent_initial_call="initial_duplicate")
    def start_page(init):
        from analytics.backtest import strategy_schemas
        from data_access import playback
        from data_access.bars_import import stored_series
        from data_access.db import current_engine

        if _role() not in ROLES:  # no run, symbol or strategy list for a role that may not replay
            return [], None, [], None, [], None, no_update
        init = init or {}
        runs = playback.recent_runs()
        options = [{"label": r["label"], "value": r["id"]} for r in runs]
        wanted = init.get("run")
        value = no_update
        if wanted and str(wanted).isdigit():
            value = int(wanted)
            if value not in {r["id"] for r in runs}:
                options.insert(0, {"label": f"#{value}", "value": value})
        symbols = sorted({s["symbol"] for s in stored_series(current_engine()) if s["timeframe"] == "1d"})
        kinds = [{"label": s["label"], "value": s["kind"]} for s in strategy_schemas()]
        source = no_update
        if init.get("live") and playback.valid_live_id(str(init["live"])) and value is no_update:
            source = {"mode": "live", "live": str(init["live"])}
        return (options, value, symbols, (symbols[0] if symbols else None), kinds, kinds[0]["value"], source)

    @app.callback(Output(ids.SOURCE, "data"), Output(ids.RUN_HEADER, "children"),
                  Input(ids.RUN_PICKER, "value"), prevent_initial_call=True)
    def pick_run(run_id):
        from data_access import playback

        if run_id is None:
            return no_update, no_update
        if _role() not in ROLES:
            return no_update, dbc.Alert("Your role may not replay backtests.", color="warning", className="py-1 mb-0")
        try:
            head = playback.run_header(run_id)
        except playback.PlaybackNotFound:
            return None, dbc.Alert(f"No backtest run #{run_id}.", color="warning", className="py-1 mb-0")
        params = ", ".join(f"{k}={v}" for k, v in head["params"].items())
        text = (f"{head['symbol']} {head['timeframe']} · {head['kind']} ({params}) · {head['start'][:10]} to "
                f"{head['end'][:10]} · {head['total']:,} bars · cash {head['cash']:,.0f}")
        return {"mode": "replay", "run": head["id"]}, text

    @app.callback(Output(ids.FORM_PARAMS, "children"), Input(ids.FORM_KIND, "value"))
    def show_parameters(kind):
        return param_fields(kind)

    @app.callback(Output(ids.SOURCE, "data", allow_duplicate=True), Output(ids.FORM_MESSAGE, "children"),
                  Input(ids.FORM_START, "n_clicks"), State(ids.FORM_SYMBOL, "value"), State(ids.FORM_KIND, "value"),
                  State({"type": ids.FORM_PARAM, "name": ALL}, "id"),
                  State({"type": ids.FORM_PARAM, "name": ALL}, "value"), State(ids.FORM_CASH, "value"),
                  prevent_initial_call=True)
    def start_live(_clicks, symbol, kind, names, values, cash):
        from data_access import playback
        from tasks.playback import start_live as queue

        if _role() not in ROLES:
            return no_update, dbc.Alert("Your role may not start backtests.", color="warning", className="py-1 mb-0")
        params = {n["name"]: v for n, v in zip(names, values) if v is not None and v != ""}
        try:
            spec = playback.parse_live_request({"symbol": symbol, "strategy": kind, "params": params, "cash": cash})
        except ValueError as exc:  # the engine's errors name the valid choices
            return no_update, dbc.Alert(str(exc), color="danger", className="py-1 mb-0")
        live_id = queue(spec)
        return {"mode": "live", "live": live_id}, f"Live run {live_id} queued on a worker."

    common.register_empty_state(app, ids.EMPTY, ids.BODY, [Input(ids.RUN_PICKER, "options"),
                                                           Input(ids.FORM_SYMBOL, "options"),
                                                           Input(ids.SOURCE, "data")], empty_book)

    app.clientside_callback(
        ClientsideFunction("tbPlayback", "load"),
        Output(ids.LOADED, "data"),
        Input(ids.SOURCE, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("tbPlayback", "control"),
        Output(ids.VIEW, "data"),
        Input(ids.TICK, "n_intervals"), Input(ids.PLAY, "n_clicks"), Input(ids.STEP, "n_clicks"),
        Input(ids.RESTART, "n_clicks"), Input(ids.SEEK, "n_clicks"), Input(ids.SEEK_TO, "n_submit"),
        Input(ids.SPEED, "value"), Input(ids.WINDOW, "value"), Input(ids.LOADED, "data"),
        State(ids.SEEK_TO, "value"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("tbPlayback", "csv"),
        Output(ids.LOG_DOWNLOAD, "data"),
        Input(ids.LOG_CSV, "n_clicks"),
        prevent_initial_call=True,
    )
