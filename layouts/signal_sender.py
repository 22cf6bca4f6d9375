"""The signal-sender page: one strategy as its developer sees it (signals, fills, lag, PnL)."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import signal_sender_ids as ids
from layouts import components
from layouts.components import money_column, number_column

dash.register_page(
    __name__,
    path="/signal-sender",
    name="Signal sender",
    title="Signal sender · tradeboard",
    description="A strategy's signals, fills, rejections, latency and PnL.",
    order=2,
)


def panel(key: str, title: str, body, *, extra=None) -> dbc.Card:
    return components.panel(title, ids.freshness(key), ids.error(key), body, extra=extra)


def csv_button(grid_id: str) -> dbc.Button:
    return components.csv_button(ids.csv_button(grid_id))


HISTORY_COLUMNS = [
    {"field": "sent_at", "headerName": "Sent (UTC)", "minWidth": 185, "filter": "agTextColumnFilter",
     "valueFormatter": {"function": "params.value == null ? '' : params.value.replace('T', ' ').replace('Z', '')"}},
    {"field": "symbol", "headerName": "Symbol", "filter": "agTextColumnFilter"},
    {"field": "side", "headerName": "Side", "filter": "agTextColumnFilter"},
    {**number_column("quantity_requested", "Qty", components.QUANTITY), "colId": "quantity",
     "filter": "agNumberColumnFilter"},
    {**number_column("quantity_filled", "Filled", components.QUANTITY), "sortable": False, "filter": False},
    {**number_column("fill_price", "Fill price"), "sortable": False, "filter": False},
    {"field": "status", "headerName": "Status", "minWidth": 125, "filter": "agTextColumnFilter"},
    {"field": "reject_reason", "headerName": "Reject reason", "minWidth": 160, "sortable": False,
     "filter": "agTextColumnFilter"},
    {**money_column("pnl", "Fill PnL", signed=True), "sortable": False, "filter": False,
     "headerTooltip": "Mark-to-market of the signal's own fills at the latest close (BUY: (close - fill) x qty)."},
    {"field": "signal_id", "headerName": "Signal id", "minWidth": 170, "sortable": False, "filter": False},
]

POSITION_COLUMNS = [
    {"field": "symbol", "headerName": "Symbol", "pinned": "left"},
    number_column("quantity", "Qty", components.QUANTITY),
    money_column("entry_price", "Entry"),
    components.PRICE_COLUMN,
    money_column("unrealized_pnl", "Unrealized PnL", signed=True),
]

_FILTER_PARAMS = {"buttons": ["reset"], "maxNumConditions": 1}


def history_grid() -> dag.AgGrid:
    return dag.AgGrid(
        id=ids.HISTORY_GRID,
        columnDefs=HISTORY_COLUMNS,
        rowModelType="infinite",
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 100, "filterParams": _FILTER_PARAMS},
        columnSize="responsiveSizeToFit",
        dashGridOptions={"cacheBlockSize": 50, "maxBlocksInCache": 20, "infiniteInitialRowCount": 50,
                         "rowBuffer": 0, "animateRows": False},
        csvExportParams={"fileName": "signal-history.csv"},
        className="ag-theme-quartz",
        style={"height": "420px", "width": "100%"},
    )


def positions_grid() -> dag.AgGrid:
    return dag.AgGrid(
        id=ids.POSITIONS_GRID,
        columnDefs=POSITION_COLUMNS,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 100},
        columnSize="responsiveSizeToFit",
        dashGridOptions={"animateRows": False, "domLayout": "autoHeight"},
        csvExportParams={"fileName": "positions.csv"},
        className="ag-theme-quartz",
        style={"width": "100%"},
    )


def toolbar() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(html.H1("Signal sender", className="h4 mb-0"), xs=12, md="auto"),
            dbc.Col(dcc.Dropdown(id=ids.STRATEGY, placeholder="Strategy…", clearable=False, style={"minWidth": "220px"}),
                    xs=12, md=3, className="me-md-auto"),
            components.time_range_picker(ids.TIME_RANGE),
            components.refresh_picker(ids.REFRESH_EVERY),
            components.refresh_and_json_buttons(ids.REFRESH_NOW, ids.DOWNLOAD_JSON_BUTTON),
        ],
        className="g-2 align-items-center mb-2",
    )


def layout(strategy: str | None = None, **_kwargs):
    kpis = dbc.Row(
        [
            dbc.Col(
                components.kpi_card(label, ids.DEFINITIONS[key], label_id=ids.kpi_label(key), value_id=ids.kpi(key),
                                    sub_id=ids.kpi_sub(key)),
                xs=6, md=3,
            )
            for key, label in ids.KPI_CARDS
        ],
        className="g-2",
    )
    chart_config = components.CHART_CONFIG
    body = html.Div(
        [
            html.Div([html.Div(id=ids.error("kpis"), **{"aria-live": "polite"}), html.Small(id=ids.freshness("kpis"), className="text-body-secondary")],
                     className="d-flex justify-content-between"),
            dcc.Loading(kpis, type="dot", delay_show=400),
            dbc.Row(
                [
                    dbc.Col(panel("pnl", "Cumulative realized PnL",
                                  components.chart(dcc.Graph(id=ids.PNL_CHART, config=chart_config,
                                                             style={"height": "320px"}), "Cumulative realized PnL")), lg=6),
                    dbc.Col(panel("latency", "Signal-to-fill latency",
                                  html.Div([html.Div(id=ids.LAG_SUMMARY, className="small text-body-secondary"),
                                            components.chart(dcc.Graph(id=ids.LATENCY_CHART,
                                                                       config={**chart_config, "displayModeBar": False},
                                                                       style={"height": "300px"}),
                                                             "Signal-to-fill latency")])), lg=6),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(
                [
                    dbc.Col(panel("rejections", "Rejection reasons",
                                  components.chart(dcc.Graph(id=ids.REJECTIONS_CHART, config={**chart_config, "displayModeBar": False},
                                                             style={"height": "300px"}), "Rejection reasons")),
                            lg=6),
                    dbc.Col(panel("positions", "Current positions", positions_grid(),
                                  extra=csv_button(ids.POSITIONS_GRID)), lg=6),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(
                dbc.Col(panel("history", "Signal history (all time, paged on the server)", history_grid(),
                              extra=html.Span(csv_button(ids.HISTORY_GRID),
                                             title=f"The first {10_000:,} rows in the grid's sort and filter"))),
                className="g-3 mt-1 mb-4",
            ),
        ],
        id=ids.BODY,
    )
    return components.dashboard_page(
        toolbar(), ids, body,
        html.Div(id=ids.DEVELOPER, className="small text-body-secondary mb-2"),
        dcc.Store(id=ids.INIT, data={"strategy": strategy}),
        dcc.Store(id=ids.PURGED),
        dcc.Download(id=ids.HISTORY_CSV),
    )
