"""The paper-trading page: what is open right now (positions at live prices, shadow positions, exit
and queued signals, recent trades, sources, top performers, PnL curve, daily returns, GEX, health)."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import components
from layouts import paper_trading_ids as ids
from layouts.components import money_column, number_column, pct_column

dash.register_page(
    __name__,
    path="/paper-trading",
    name="Paper trading",
    title="Paper trading · tradeboard",
    description="What is open right now: positions at live prices, missed and queued signals, trades, GEX, health.",
    order=3,
)

# Real-time panels (positions, signals, health) are never cached: refresh every few seconds by default.
DEFAULT_REFRESH = "5"


def panel(key: str, title: str, body, *, extra=None) -> dbc.Card:
    return components.panel(title, ids.freshness(key), ids.error(key), body, extra=extra)


def csv_button(grid_id: str) -> dbc.Button:
    return components.csv_button(ids.csv_button(grid_id))


def grid(grid_id: str, columns: list[dict], *, height: str | None = None) -> dag.AgGrid:
    """A sortable, filterable grid; with no ``height`` it grows to its rows (short lists). Columns
    keep their minimum widths, so on a phone the grid scrolls sideways inside its panel."""
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 85,
                       "wrapHeaderText": True, "autoHeaderHeight": True},
        columnSize="responsiveSizeToFit",
        dashGridOptions={"animateRows": False, "domLayout": "normal" if height else "autoHeight"},
        csvExportParams={"fileName": f"{grid_id.removeprefix('paper-').removesuffix('-grid')}.csv"},
        className="ag-theme-quartz",
        style={"height": height, "width": "100%"} if height else {"width": "100%"},
    )


def money(field: str, header: str) -> dict:
    return {**money_column(field, header), "minWidth": 100}


def pnl_column(field: str, header: str) -> dict:
    """Money with its sign, green when positive and red when negative."""
    return {**money_column(field, header, signed=True), "minWidth": 125}


def signed_pct_column(field: str, header: str) -> dict:
    return {**pct_column(field, header, signed=True), "minWidth": 85}


def time_column(field: str, header: str) -> dict:
    """An ISO UTC time to the minute ("2026-11-19 14:57"; the CSV keeps the full value)."""
    return {"field": field, "headerName": header, "minWidth": 150, "useValueFormatterForExport": False,
            "valueFormatter": {"function": "params.value == null ? '—' : params.value.slice(0, 16).replace('T', ' ')"}}


_AGE = "params.value"
AGE_FORMAT = {"function": (
    f"{_AGE} == null ? '—' : {_AGE} < 90 ? Math.round({_AGE}) + ' s' : {_AGE} < 5400 ? Math.round({_AGE} / 60) + ' min' "
    f": {_AGE} < 172800 ? (({_AGE} / 3600).toFixed(1)) + ' h' : Math.round({_AGE} / 86400) + ' d'")}


def age_column(field: str, header: str, *, warn_after: float | None = None) -> dict:
    column = {"field": field, "headerName": header, "type": "rightAligned", "minWidth": 95, "valueFormatter": AGE_FORMAT}
    if warn_after is not None:
        column["cellClassRules"] = {"text-warning-emphasis fw-semibold": f"params.value > {warn_after}"}
    return column


SYMBOL = {"field": "symbol", "headerName": "Symbol", "pinned": "left", "minWidth": 95, "maxWidth": 120}
SIDE = {"field": "side", "headerName": "Side", "minWidth": 80}
QTY = {**number_column("quantity", "Qty", ",.4~f"), "minWidth": 80}  # crypto quantities are fractional
SOURCE = {"field": "source", "headerName": "Source", "minWidth": 180, "tooltipField": "source"}
ACCOUNT = {"field": "account", "headerName": "Account", "minWidth": 150, "tooltipField": "account"}

POSITION_COLUMNS = [
    SYMBOL, SIDE, QTY,
    money("entry_price", "Entry"),
    components.PRICE_COLUMN,
    pnl_column("unrealized_pnl", "Unrealized PnL"),
    signed_pct_column("pnl_pct", "PnL %"),
    SOURCE,
    ACCOUNT,
    time_column("opened_at", "Opened (UTC)"),
]

SHADOW_COLUMNS = [  # eleven columns: a little narrower than elsewhere, to fit a desktop screen
    SYMBOL, SIDE, {**QTY, "minWidth": 70},
    money("entry_price", "Signal price"),
    {**components.PRICE_COLUMN, "minWidth": 140},
    {**pnl_column("unrealized_pnl", "Would be PnL"),
     "headerTooltip": "What the missed entry would hold now at the live price (positive: not trading cost this much)."},
    {**signed_pct_column("pnl_pct", "PnL %"), "minWidth": 80},
    {"field": "status", "headerName": "Status", "minWidth": 100,
     "valueFormatter": {"function": "params.value == null ? '—' : params.value.toLowerCase()"}},
    {"field": "reason", "headerName": "Reason", "minWidth": 150, "tooltipField": "reason"},
    {**SOURCE, "minWidth": 150},
    time_column("signal_at", "Signal (UTC)"),
]

EXIT_COLUMNS = [
    SYMBOL, SIDE, QTY,
    age_column("age_seconds", "Age", warn_after=300),
    money("entry_price", "Entry"),
    money("signal_price", "Signal price"),
    components.PRICE_COLUMN,
    pnl_column("unrealized_pnl", "Unrealized PnL"),
    SOURCE,
    number_column("position_id", "Trade", "d"),
]

QUEUED_COLUMNS = [
    SYMBOL, SIDE, QTY,
    age_column("age_seconds", "Age", warn_after=300),
    money("price", "Price"),
    SOURCE,
    ACCOUNT,
    time_column("timestamp", "Queued (UTC)"),
]

TRADE_COLUMNS = [
    SYMBOL, SIDE, QTY,
    money("entry_price", "Entry"),
    money("exit_price", "Exit"),
    pnl_column("realized_pnl", "Realized PnL"),
    signed_pct_column("return_pct", "Return"),
    number_column("holding_hours", "Held (h)", ",.1f"),
    SOURCE,
    ACCOUNT,
    time_column("closed_at", "Closed (UTC)"),
]

SOURCE_COLUMNS = [
    {**SOURCE, "pinned": "left", "minWidth": 170},
    number_column("signals", "Signals", ",d"),
    {**pct_column("fill_rate", "Fill rate"), "minWidth": 95,
     "headerTooltip": "Executed / (signals - still queued) x 100."},
    number_column("missed", "Missed", ",d"),
    number_column("trades", "Closed trades", ",d"),
    {**pct_column("win_rate", "Win rate"), "minWidth": 95},
    pnl_column("pnl", "PnL"),
    pnl_column("avg_pnl_per_trade", "PnL / trade"),
    number_column("open_trades", "Open", ",d"),
]

TOP_COLUMNS = [
    {**number_column("rank", "#", "d"), "minWidth": 60, "maxWidth": 70},
    {**SYMBOL, "pinned": None},
    pnl_column("realized_pnl", "Realized PnL"),
    number_column("trades", "Trades", ",d"),
    {**pct_column("win_rate", "Win rate"), "minWidth": 95},
    number_column("sources", "Sources", ",d"),
]


def toolbar() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(html.H1("Paper trading", className="h4 mb-0"), xs=12, md="auto", className="me-md-auto"),
            components.refresh_picker(ids.REFRESH_EVERY, value=DEFAULT_REFRESH),
            components.refresh_and_json_buttons(ids.REFRESH_NOW, ids.DOWNLOAD_JSON_BUTTON),
        ],
        className="g-2 align-items-center mb-3",
    )


def _row(*cols, last: bool = False) -> dbc.Row:
    return dbc.Row(list(cols), className="g-3 mt-1" + (" mb-4" if last else ""))


def layout(**_kwargs):
    kpis = dbc.Row(
        [
            dbc.Col(
                components.kpi_card(label, ids.DEFINITIONS[key], label_id=ids.kpi_label(key), value_id=ids.kpi(key),
                                    sub_id=ids.kpi_sub(key)),
                xs=6, md=4, xl=2,
            )
            for key, label in ids.KPI_CARDS
        ],
        className="g-2",
    )
    chart_config = {**components.CHART_CONFIG, "displayModeBar": False}
    summary = "small text-body-secondary"
    body = html.Div(
        [
            html.Div([html.Div(id=ids.error("kpis"), **{"aria-live": "polite"}),
                      html.Small(id=ids.freshness("kpis"), className="text-body-secondary ms-auto")],
                     className="d-flex flex-wrap gap-2"),
            dcc.Loading(kpis, type="dot", delay_show=400),
            _row(
                dbc.Col(panel("health", "Health", html.Div(id=ids.HEALTH)), lg=4),
                dbc.Col(panel("gex", "Gamma exposure (GEX)", html.Div(id=ids.GEX)), md=6, lg=4),
                dbc.Col(panel("stats", "Trading today", html.Div(id=ids.STATS)), md=6, lg=4),
            ),
            _row(dbc.Col(panel("positions", "Open positions (live prices)",
                               html.Div([html.Div(id=ids.POSITIONS_SUMMARY, className=summary),
                                         grid(ids.POSITIONS_GRID, POSITION_COLUMNS, height="380px")],
                                        className="d-flex flex-column gap-2"),
                               extra=csv_button(ids.POSITIONS_GRID)))),
            _row(dbc.Col(panel("exits", "Exit signals (active: waiting to close a position)",
                               grid(ids.EXITS_GRID, EXIT_COLUMNS), extra=csv_button(ids.EXITS_GRID)))),
            _row(dbc.Col(panel("queued", "Queued signals",
                               html.Div([html.Div(id=ids.QUEUED_SUMMARY, className=summary),
                                         grid(ids.QUEUED_GRID, QUEUED_COLUMNS)], className="d-flex flex-column gap-2"),
                               extra=csv_button(ids.QUEUED_GRID)))),
            _row(dbc.Col(panel("shadow", "Shadow positions (missed entries, held on paper)",
                               html.Div([html.Div(id=ids.SHADOW_SUMMARY),
                                         grid(ids.SHADOW_GRID, SHADOW_COLUMNS, height="340px")],
                                        className="d-flex flex-column gap-2"),
                               extra=csv_button(ids.SHADOW_GRID)))),
            _row(
                dbc.Col(panel("pnl", "Cumulative realized PnL",
                              components.chart(dcc.Graph(id=ids.PNL_CHART, config=chart_config, style={"height": "390px"}),
                                               "Cumulative realized PnL")), lg=8),
                dbc.Col(panel("metrics", "Performance", html.Div(id=ids.METRICS)), lg=4),
            ),
            _row(dbc.Col(panel("returns", "Daily returns (realized)",
                               components.chart(dcc.Graph(id=ids.RETURNS_CHART, config=chart_config, style={"height": "280px"}),
                                                "Daily returns (realized)")))),
            _row(dbc.Col(panel("trades", "Recent trades", grid(ids.TRADES_GRID, TRADE_COLUMNS, height="380px"),
                               extra=csv_button(ids.TRADES_GRID)))),
            _row(dbc.Col(panel("sources", "Source performance", grid(ids.SOURCES_GRID, SOURCE_COLUMNS),
                               extra=csv_button(ids.SOURCES_GRID)))),
            _row(dbc.Col(panel("top", "Top performers (realized PnL by symbol)", grid(ids.TOP_GRID, TOP_COLUMNS),
                               extra=csv_button(ids.TOP_GRID))), last=True),
        ],
        id=ids.BODY,
    )
    return components.dashboard_page(toolbar(), ids, body)
