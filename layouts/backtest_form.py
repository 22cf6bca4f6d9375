"""The strategy page's "Run a backtest or sweep" form, built from the engine's parameter schemas.

A parameter takes one value (a run) or several separated by commas (a sweep over their product,
times the chosen symbols)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.backtest import strategy_schemas
from layouts import components
from layouts import strategies_ids as ids

DEFAULT_KIND = "sma_cross"


def kind_options() -> list[dict]:
    return [{"label": s["label"], "value": s["kind"]} for s in strategy_schemas()]


def param_fields(kind: str | None) -> list:
    """One labelled input per parameter of ``kind``, holding its default."""
    schema = next((s for s in strategy_schemas() if s["kind"] == kind), None)
    if schema is None:
        return []
    fields = []
    for p in schema["params"]:
        if p["type"] == "bool":
            control = dbc.Select(id={"type": ids.FORM_PARAM, "name": p["name"]}, value=str(p["default"]).lower(),
                                 options=[{"label": "yes", "value": "true"}, {"label": "no", "value": "false"},
                                          {"label": "both", "value": "false,true"}], size="sm")
        else:
            bounds = f"{p['min']:g} to {p['max']:g}" if p["min"] is not None and p["max"] is not None else ""
            control = dbc.Input(id={"type": ids.FORM_PARAM, "name": p["name"]}, value=str(p["default"]), size="sm",
                                type="text", placeholder=f"e.g. {p['default']} or several: a,b,c", debounce=True)
            control = html.Div(control, title=f"{p['description']} ({bounds}); values separated by commas sweep them")
        label = components.field_label(p["name"].replace("_", " "), {"type": ids.FORM_PARAM, "name": p["name"]})
        fields.append(dbc.Col([label, control], xs=6, md=3))
    return fields


def form() -> html.Div:
    return html.Div(
        [
            dcc.Store(id=ids.FORM_TICKET),
            dcc.Store(id=ids.FORM_TASK),
            dcc.Store(id=ids.FORM_DONE),
            dbc.Row(
                [
                    dbc.Col([components.field_label("Strategy", ids.FORM_KIND),
                             dcc.Dropdown(id=ids.FORM_KIND, options=kind_options(), value=DEFAULT_KIND, clearable=False)],
                            xs=12, md=4),
                    dbc.Col([components.field_label("Symbols", ids.FORM_SYMBOLS),
                             dcc.Dropdown(id=ids.FORM_SYMBOLS, multi=True, placeholder="symbols with stored daily bars")],
                            xs=12, md=8),
                ],
                className="g-2",
            ),
            dbc.Row(param_fields(DEFAULT_KIND), id=ids.FORM_PARAMS, className="g-2"),
            dbc.Row(
                [
                    dbc.Col([components.field_label("Cash", ids.FORM_CASH),
                             dbc.Input(id=ids.FORM_CASH, type="number", value=100_000, min=1, size="sm")], xs=6, md=3),
                    dbc.Col([components.field_label("Start (optional)", ids.FORM_START),
                             dbc.Input(id=ids.FORM_START, type="date", size="sm")], xs=6, md=3),
                    dbc.Col([components.field_label("End (optional)", ids.FORM_END),
                             dbc.Input(id=ids.FORM_END, type="date", size="sm")], xs=6, md=3),
                    dbc.Col(html.Div([dbc.Button("Run", id=ids.FORM_RUN, color="primary", size="sm"),
                                      dbc.Button("Cancel", id=ids.FORM_CANCEL, color="secondary", outline=True,
                                                 size="sm", disabled=True)],
                                     className="d-flex gap-2 align-items-end h-100"), xs=6, md=3),
                ],
                className="g-2",
            ),
            components.named("Backtest progress", dbc.Progress(id=ids.FORM_PROGRESS, value=0, label="", striped=True,
                                                               className="mt-1", style={"height": "1.25rem"})),
            html.Div(id=ids.FORM_MESSAGE, className="small"),
        ],
        className="d-flex flex-column gap-2",
    )
