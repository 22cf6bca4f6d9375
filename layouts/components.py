"""Building blocks every dashboard page uses: panels with freshness and error slots, the
time-range and auto-refresh pickers, KPI cards, AG Grid columns, CSV buttons, the whole-dashboard
JSON download, and the empty state a page shows over an empty book."""

from __future__ import annotations

import json

import dash_bootstrap_components as dbc
from dash import dcc, html

TIME_RANGES = [("7d", "7D"), ("30d", "30D"), ("90d", "90D"), ("1y", "1Y"), ("all", "All")]
REFRESH_CHOICES = [("0", "Off"), ("5", "5 s"), ("30", "30 s"), ("60", "1 min"), ("300", "5 min")]
CHART_CONFIG = {"displaylogo": False, "responsive": True}
QUANTITY = ",.8~f"  # d3: whole shares as 40, fractions (crypto) as 0.5, never rounded to a whole unit


def chart(graph, name: str) -> html.Figure:
    """A chart with its accessible name (``name``) and, under it, a one-line text summary of what it
    shows ("Equity: 6.18 M, 2.4 % below its peak of 6.33 M"), written by assets/a11y.js from the drawn
    figure; the grid beside a chart is its full alternative."""
    summary_id = f"{graph.id}-summary"
    return html.Figure(
        [graph, html.Figcaption(html.Span(id=summary_id, className="tb-chart-summary"),
                                className="small text-body-secondary mb-0")],
        className="tb-chart mb-0", **{"aria-label": name, "aria-describedby": summary_id, "data-chart-name": name})


def panel(title: str, freshness_id: str, error_id: str, body, *, extra=None) -> dbc.Card:
    """A card with a title, an "updated N s ago" label, an error slot and the panel's body."""
    header = html.Div(
        [
            html.H2(title, className="h6 mb-0 me-auto"),
            extra,
            html.Small(id=freshness_id, className="text-body-secondary ms-2 text-nowrap"),
        ],
        className="d-flex flex-wrap align-items-center gap-2",
    )
    error = html.Div(id=error_id, **{"aria-live": "polite"})  # a screen reader hears a panel's failure
    return dbc.Card(dbc.CardBody([header, error, body], className="d-flex flex-column gap-2"),
                    className="h-100 shadow-sm")


def dom_id(component_id: str | dict) -> str:
    """The id Dash gives a component's element: a pattern-matching id as Dash writes it (JSON, keys
    sorted, no spaces), so a <label for=...> can name it."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return component_id


def field_label(text, component_id: str | dict, class_name: str = "small mb-0") -> dbc.Label:
    """A label tied to its control (screen readers read it as the control's name)."""
    return dbc.Label(text, html_for=dom_id(component_id), class_name=class_name)


def group_label(text: str, component_id: str) -> dbc.Label:
    """An input group's leading text as the label of its control."""
    return dbc.Label(text, html_for=component_id, class_name="input-group-text mb-0")


def named(name: str, child, class_name: str | None = None) -> html.Div:
    """``child`` (a dbc.Progress, a dcc.Upload) wrapped so assets/a11y.js names what it renders
    unnamed: its role=progressbar element or its file input gets ``name`` as aria-label."""
    return html.Div(child, className=class_name, **{"data-a11y-name": name})


def time_range_picker(component_id: str, value: str = "90d", ranges: list[tuple[str, str]] = TIME_RANGES) -> dbc.Col:
    """The time ranges (``[(value, label)]``) as one joined button group: one radio group, so Tab
    stops once on it and the arrow keys move between ranges."""
    return dbc.Col(
        html.Div(
            dbc.RadioItems(
                id=component_id,
                name=component_id,
                options=[{"label": label, "value": v} for v, label in ranges],
                value=value,
                inline=True,
                className="btn-group btn-group-sm",
                inputClassName="btn-check",
                labelClassName="btn btn-outline-primary",
                labelCheckedClassName="active",
            ),
            role="radiogroup", **{"aria-label": "Time range"},
        ),
        xs="auto",
        className="tb-radio-group",
    )


def refresh_picker(component_id: str, value: str = "30") -> dbc.Col:
    return dbc.Col(
        dbc.InputGroup(
            [
                group_label("Auto-refresh", component_id),
                dbc.Select(id=component_id, options=[{"label": label, "value": v} for v, label in REFRESH_CHOICES],
                           value=value),
            ],
            size="sm",
        ),
        xs="auto",
    )


def refresh_timers(tick_id: str, clock_id: str) -> list:
    """The auto-refresh ticker (driven by the refresh picker) and the clock that re-ages labels."""
    return [dcc.Interval(id=tick_id, interval=30_000), dcc.Interval(id=clock_id, interval=5_000)]


def kpi_card(label: str, definition: str, *, label_id: str, value_id: str, sub_id: str) -> dbc.Card:
    """A headline number with its definition as a tooltip on the label."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(label, id=label_id, className="small text-body-secondary kpi-label"),
                html.Div("—", id=value_id, className="fs-4 fw-semibold kpi-value"),
                html.Div(id=sub_id, className="small"),
                dbc.Tooltip(definition, target=label_id, placement="bottom"),
            ]
        ),
        className="h-100 shadow-sm",
    )


def csv_button(button_id: str) -> dbc.Button:
    return dbc.Button("CSV", id=button_id, size="sm", color="secondary", outline=True)


def json_download_button(button_id: str) -> dbc.Button:
    """The toolbar's "JSON" button (callbacks.common.register_json_download wires it)."""
    return dbc.Button("JSON", id=button_id, size="sm", color="secondary", outline=True,
                      title="Download the whole dashboard as JSON")


def refresh_and_json_buttons(refresh_id: str, json_button_id: str) -> dbc.Col:
    """The toolbar's "Refresh" (rebuild every panel now) and "JSON" (the whole dashboard) buttons."""
    return dbc.Col(
        dbc.ButtonGroup([
            dbc.Button("Refresh", id=refresh_id, size="sm", color="primary",
                       title="Rebuild every panel from the database now"),
            json_download_button(json_button_id),
        ]),
        xs="auto",
    )


def dashboard_page(toolbar, ids, body, *extra) -> dbc.Container:
    """A dashboard's page: its toolbar, the document store, refresh timers, JSON download, status and
    empty-state slots, then its body (``ids`` is the page's id module; ``extra`` components go before the body)."""
    return dbc.Container(
        [
            toolbar,
            dcc.Store(id=ids.DOCUMENT),
            *refresh_timers(ids.TICK, ids.CLOCK),
            json_download(ids.DOWNLOAD_JSON),
            *extra,
            html.Div(id=ids.STATUS),
            html.Div(id=ids.EMPTY),
            body,
        ],
        fluid=True,
        className="py-3",
    )


def json_download(download_id: str) -> dcc.Download:
    return dcc.Download(id=download_id)


# a gain or loss: "+" or "−" in front, and green or red, so colour is never the only sign
GAIN_LOSS_CLASSES = {"text-success": "params.value > 0", "text-danger": "params.value < 0"}


def money_column(field: str, header: str, signed: bool = False) -> dict:
    fmt = "+,.2f" if signed else ",.2f"
    column = {"field": field, "headerName": header, "type": "rightAligned", "minWidth": 135,
              "valueFormatter": {"function": f"params.value == null ? '—' : d3.format('{fmt}')(params.value)"}}
    return {**column, "cellClassRules": GAIN_LOSS_CLASSES} if signed else column


def pct_column(field: str, header: str, signed: bool = False) -> dict:
    fmt = "+.1f" if signed else ".1f"
    column = {"field": field, "headerName": header, "type": "rightAligned",
              "valueFormatter": {"function": f"params.value == null ? '—' : d3.format('{fmt}')(params.value) + ' %'"}}
    return {**column, "cellClassRules": GAIN_LOSS_CLASSES} if signed else column


def number_column(field: str, header: str, fmt: str = ".2f") -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned",
            "valueFormatter": {"function": f"params.value == null ? '—' : d3.format('{fmt}')(params.value)"}}


# The price a position is marked at, with its freshness: "123.45 (stale 2 min)" when the provider
# failed and this is its last good price (every positions grid uses it).
_AGE = "params.data.price_age_seconds"
PRICE_COLUMN = {
    "field": "current_price", "headerName": "Price", "type": "rightAligned", "minWidth": 150,
    "headerTooltip": "Latest price from the price provider; '(stale 2 min)': the provider failed and this is "
                     "its last good price, that old; '—': no price (named above the grid).",
    "valueFormatter": {"function": (
        "params.value == null ? '—' : d3.format(',.2f')(params.value) + (params.data && params.data.price_stale ? "
        f"' (stale ' + ({_AGE} < 90 ? Math.round({_AGE}) + ' s' : {_AGE} < 5400 ? Math.round({_AGE} / 60) + ' min' : "
        f"{_AGE} < 172800 ? Math.round({_AGE} / 3600) + ' h' : Math.round({_AGE} / 86400) + ' d') + ')' : '')")},
    "cellClassRules": {"price-stale text-warning-emphasis fst-italic": "params.data && params.data.price_stale === true"},
}


def empty_state(title: str, lead, steps: list, note=None) -> html.Div:
    """What a page over an empty book shows instead of empty charts: what is missing (``title``, ``lead``)
    and the routes or commands that bring it in (``steps``, one line each)."""
    return html.Div(
        [
            html.H2(title, className="h5 mb-1"),
            html.P(lead, className="text-body-secondary mb-2"),
            html.Ul([html.Li(step) for step in steps], className="mb-0 ps-3 tb-empty-steps"),
            html.P(note, className="small text-body-secondary mb-0 mt-2") if note else None,
        ],
        className="card card-body shadow-sm mb-3 tb-empty-state",
        role="status",
    )


def ingest_step(entity: str, example: str, noun: str = "them") -> list:
    """"Send them to POST /api/v1/ingest/ENTITY or run `tradeboard import ENTITY FILE` — see examples/FILE.\""""
    return [f"Send {noun} to ", html.Code(f"POST /api/v1/ingest/{entity}"), " or run ",
            html.Code(f"tradeboard import {entity} FILE"), " — see ", html.Code(f"examples/{example}"), "."]


def entity_code(entity: str) -> html.Code:
    """An entity's name as code that a narrow screen does not break at its hyphen."""
    return html.Code(entity, className="text-nowrap")


def then_step(entities: list[str]) -> list:
    """"Then A, B and C the same way." with each entity as code."""
    names = [entity_code(e) for e in entities]
    joined: list = []
    for n, name in enumerate(names):
        if n:
            joined.append(" and " if n == len(names) - 1 else ", ")
        joined.append(name)
    return ["Then ", *joined, " the same way (examples/ has a file for each)."]


def backtest_steps(form: str, has_bars: bool) -> list:
    """How to run a backtest (``form``: where the page's own form is, the API, the CLI), after how to bring
    daily bars in when there are none: a backtest replays stored bars."""
    steps = [
        [f"Run one {form}."],
        [html.Code("POST /api/v1/backtests"), " with a symbol, a strategy and its parameters (or a sweep)."],
        [html.Code("tradeboard backtest --symbol SYMBOL --strategy sma_cross"), " on the command line."],
    ]
    if not has_bars:
        steps.insert(0, ["A backtest replays stored daily bars, and there are none yet: ",
                         html.Code("POST /api/v1/ingest/bars"), " or ", html.Code("tradeboard import bars FILE"),
                         " (see ", html.Code("examples/bars.csv"), "), or a symbol's whole history with ",
                         html.Code("tradeboard import-bars FILE --symbol SYMBOL"), "."])
    return steps


DEMO_NOTE = ["To explore with made-up data instead: ", html.Code("tradeboard seed"), "."]
