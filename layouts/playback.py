"""The playback page: a backtest played bar by bar (a stored run replayed in the browser, or a live
run computed on a Celery worker and read back from its Redis stream). The player is clientside
(assets/playback.js, its chart assets/playback_chart.js); this module only draws the page."""

from __future__ import annotations

import json

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import components
from layouts import playback_ids as ids

dash.register_page(
    __name__,
    path="/playback",
    name="Playback",
    title="Playback · tradeboard",
    description="Watch a backtest happen bar by bar: candles, entries and exits, live stats and the signal log.",
    order=5,
)


def _label(text: str, component_id: str) -> dbc.Label:
    return components.field_label(text, component_id)


def source_card() -> dbc.Card:
    replay = html.Div(
        [
            html.H2("Replay a stored run", className="h6"),
            dcc.Dropdown(id=ids.RUN_PICKER, placeholder="Pick a stored backtest run…", clearable=False,
                         optionHeight=40, className="tb-playback-run-picker"),
            html.Div(id=ids.RUN_HEADER, className="small text-body-secondary mt-1"),
        ]
    )
    live = html.Div(
        [
            html.H2("Or run a new backtest live", className="h6"),
            dbc.Row(
                [
                    dbc.Col([_label("Symbol", ids.FORM_SYMBOL), dcc.Dropdown(id=ids.FORM_SYMBOL, clearable=False,
                                                            placeholder="symbol")], xs=6, md=3),
                    dbc.Col([_label("Strategy", ids.FORM_KIND), dcc.Dropdown(id=ids.FORM_KIND, clearable=False)], xs=6, md=4),
                    dbc.Col([_label("Cash", ids.FORM_CASH), dbc.Input(id=ids.FORM_CASH, type="number", value=100_000, min=1,
                                                       size="sm")], xs=6, md=3),
                    dbc.Col(dbc.Button("Run live", id=ids.FORM_START, color="primary", size="sm",
                                       className="w-100"), xs=6, md=2, className="d-flex align-items-end"),
                ],
                className="g-2",
            ),
            dbc.Row(id=ids.FORM_PARAMS, className="g-2 mt-0"),
            html.Div(id=ids.FORM_MESSAGE, className="small mt-1"),
        ]
    )
    return dbc.Card(dbc.CardBody(dbc.Row([dbc.Col(replay, lg=5), dbc.Col(live, lg=7)], className="g-3")),
                    className="shadow-sm")


def controls() -> html.Div:
    return html.Div(
        [
            dbc.ButtonGroup(
                [
                    dbc.Button("Play", id=ids.PLAY, color="primary", size="sm", className="tb-playback-play",
                               title="Play / pause"),
                    dbc.Button("Step", id=ids.STEP, color="secondary", outline=True, size="sm",
                               title="Pause and show one more bar"),
                    dbc.Button("Replay", id=ids.RESTART, color="secondary", outline=True, size="sm",
                               title="Replay from the first bar"),
                ]
            ),
            dbc.InputGroup(
                [
                    dbc.Input(id=ids.SEEK_TO, placeholder="bar # or date", size="sm", debounce=False,
                              className="tb-playback-seek-input", n_submit=0),
                    dbc.Button("Seek", id=ids.SEEK, color="secondary", outline=True, size="sm"),
                ],
                size="sm",
                className="tb-playback-seek",
            ),
            dbc.InputGroup(
                [
                    components.group_label("Speed", ids.SPEED),
                    dbc.Select(id=ids.SPEED, value=str(ids.DEFAULT_SPEED),
                               options=[{"label": f"{s} bars/s", "value": str(s)} for s in ids.SPEEDS]),
                ],
                size="sm",
                className="tb-playback-speed",
            ),
            dbc.InputGroup(
                [
                    components.group_label("Window", ids.WINDOW),
                    dbc.Select(id=ids.WINDOW, value=ids.DEFAULT_WINDOW,
                               options=[{"label": label, "value": v} for v, label in ids.WINDOWS]),
                ],
                size="sm",
                className="tb-playback-window",
            ),
            html.Small(["Keys: ", html.Kbd("Space"), " play / pause · ", html.Kbd("\u2192"), " next bar · ",
                        html.Kbd("\u2190"), " previous bar"], id=ids.KEYS_HINT, className="text-body-secondary"),
        ],
        className="d-flex flex-wrap gap-2 align-items-center",
    )


def _card(label: str, value_id: str, sub) -> dbc.Col:
    body = dbc.CardBody([html.Div(label, className="small text-body-secondary"),
                         html.Div("—", id=value_id, className="fs-5 fw-semibold tb-playback-value"), sub],
                        className="py-2")
    return dbc.Col(dbc.Card(body, className="h-100 shadow-sm"), xs=6, lg=3)


def cards() -> dbc.Row:
    return dbc.Row(
        [
            _card("Progress", ids.PROGRESS_TEXT,
                  html.Div([components.named("Bars shown", dbc.Progress(id=ids.PROGRESS_BAR, value=0,
                                                                           className="tb-playback-bar"),
                                             class_name="flex-grow-1"),
                            html.Span("0 %", id=ids.PROGRESS_PCT, className="small ms-2 text-nowrap")],
                           className="d-flex align-items-center")),
            _card("Trades", ids.TRADES, html.Div(id=ids.TRADES_WL, className="small")),
            _card("Win rate", ids.WIN_RATE, components.named("Win rate", dbc.Progress(id=ids.WIN_BAR, value=0, color="success",
                                                                                   className="tb-playback-bar"))),
            _card("PnL", ids.PNL, html.Div(id=ids.PNL_PCT, className="small")),
        ],
        className="g-2",
    )


def signal_log() -> dbc.Card:
    header = html.Div([html.H2("Signal log (latest)", className="h6 mb-0 me-auto"),
                       dbc.Button("CSV", id=ids.LOG_CSV, size="sm", color="secondary", outline=True,
                                  title="Every signal of the run so far, as CSV")],
                      className="d-flex align-items-center gap-2")
    table = dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in ("Time", "Type", "Side", "Price", "Size", "PnL")])),
         html.Tbody(id=ids.LOG_BODY)],
        size="sm", hover=True, className="mb-0 tb-playback-log",
    )
    return dbc.Card(dbc.CardBody([header, html.Div(table, className="table-responsive")],
                                 className="d-flex flex-column gap-2"), className="shadow-sm")


def legend() -> html.Div:
    items = [("▲", "tb-sig-long", "Long entry"), ("▼", "tb-sig-short", "Short entry"), ("●", "tb-sig-exit", "Exit"),
             ("▮", "tb-sig-long", "Up candle"), ("▮", "tb-sig-short", "Down candle"), ("━", "tb-sig-equity", "Equity")]
    marks = [html.Span([html.Span(mark, className=f"{cls} me-1", **{"aria-hidden": "true"}), text],
                       className="me-3 text-nowrap") for mark, cls, text in items]
    # the chart library's licence asks for its attribution and a link to TradingView on the page
    credit = html.A("Chart: TradingView Lightweight Charts™", id=ids.ATTRIBUTION, href="https://www.tradingview.com/",
                    target="_blank", rel="noopener", className="ms-auto text-body-secondary text-nowrap")
    return html.Div(marks + [credit], className="d-flex flex-wrap small px-2 pt-1 tb-playback-legend")


def layout(run: str | None = None, live: str | None = None, **_kwargs):
    chart = html.Div(id=ids.CHART, className="tb-playback-chart",
                     title="Drag to pan, scroll to zoom; double-click to fit the whole run in the All window")
    return dbc.Container(
        [
            html.Div([html.H1("Playback", className="h4 mb-0 me-auto"),
                      html.Div(id=ids.STATUS, className="small text-body-secondary tb-playback-status")],
                     className="d-flex flex-wrap align-items-center gap-2 mb-2"),
            html.Div(id=ids.ANNOUNCE, className="visually-hidden", role="status", **{"aria-live": "polite"}),
            html.Div(id=ids.CLIENT_IDS, hidden=True, **{"data-ids": json.dumps(ids.client_ids())}),
            dcc.Store(id=ids.INIT, data={"run": run, "live": live}),
            dcc.Store(id=ids.SOURCE),
            dcc.Store(id=ids.LOADED),
            dcc.Store(id=ids.VIEW),
            dcc.Download(id=ids.LOG_DOWNLOAD),
            dcc.Interval(id=ids.TICK, interval=250, disabled=False),
            html.Div(id=ids.EMPTY),
            source_card(),
            html.Div(
                [
                    html.Div(controls(), className="my-2"),
                    cards(),
                    dbc.Card(dbc.CardBody([legend(), components.chart(chart, "The run's prices, entries, exits and equity")],
                                          className="p-1"), className="shadow-sm mt-2"),
                    html.Div(signal_log(), className="mt-2 mb-4"),
                ],
                id=ids.BODY,
            ),
        ],
        fluid=True,
        className="py-3 tb-playback",
    )
