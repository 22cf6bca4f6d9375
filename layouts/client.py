"""The client dashboard page: how the fund is doing."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import client_ids as ids
from layouts import components
from layouts.components import money_column, number_column, pct_column
from layouts.definitions import DEFINITIONS

dash.register_page(
    __name__,
    path="/client",
    name="Client",
    title="Client dashboard · tradeboard",
    description="How the fund is doing: AUM, equity, PnL, margin, accounts, strategies and risk.",
    order=1,
)


_GRID_STYLE = {"height": "320px", "width": "100%"}


def panel(key: str, title: str, body, *, extra=None) -> dbc.Card:
    return components.panel(title, ids.freshness(key), ids.error(key), body, extra=extra)


def grid(grid_id: str, columns: list[dict], *, fixed_height: bool = True) -> dag.AgGrid:
    """A sortable, filterable grid; short lists (accounts, strategies) grow to their rows instead
    of scrolling inside a fixed height."""
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 110},
        columnSize="responsiveSizeToFit",
        dashGridOptions={"animateRows": False, "domLayout": "normal" if fixed_height else "autoHeight"},
        csvExportParams={"fileName": f"{grid_id.removeprefix('client-')}.csv"},
        className="ag-theme-quartz",
        style=_GRID_STYLE if fixed_height else {"width": "100%"},
    )


def csv_button(grid_id: str) -> dbc.Button:
    return components.csv_button(ids.csv_button(grid_id))


ACCOUNT_COLUMNS = [
    {"field": "account_name", "headerName": "Account", "pinned": "left", "minWidth": 170},
    {"field": "broker", "headerName": "Broker"},
    money_column("equity", "Equity"),
    money_column("cash", "Cash"),
    money_column("margin_used", "Margin used"),
    pct_column("margin_utilization", "Margin %"),
    money_column("unrealized_pnl", "Unrealized PnL", signed=True),
    money_column("pnl", "PnL", signed=True),
]

STRATEGY_COLUMNS = [
    {"field": "strategy_name", "headerName": "Strategy", "pinned": "left", "minWidth": 210},
    {"field": "status", "headerName": "Status"},
    {**number_column("allocation", "Allocation", ".0%")},
    money_column("pnl", "PnL", signed=True),
    pct_column("pnl_pct", "PnL %", signed=True),
    pct_column("win_rate", "Win rate"),
    number_column("number_of_trades", "Trades", ",d"),
    number_column("sharpe_ratio", "Sharpe"),
]

# Not in client_ids.py (another engineer's file): the callbacks type the same id.
POSITIONS_GRID = "client-positions-grid"

POSITION_COLUMNS = [
    {"field": "strategy_name", "headerName": "Strategy", "pinned": "left", "minWidth": 170},
    {"field": "symbol", "headerName": "Symbol"},
    number_column("quantity", "Qty", components.QUANTITY),
    money_column("entry_price", "Entry"),
    components.PRICE_COLUMN,
    money_column("unrealized_pnl", "Unrealized PnL", signed=True),
]

SIGNAL_COLUMNS = [
    {"field": "received_at", "headerName": "Received (UTC)", "minWidth": 170},
    {"field": "strategy_name", "headerName": "Strategy"},
    {"field": "symbol", "headerName": "Symbol"},
    {"field": "side", "headerName": "Side"},
    number_column("quantity", "Qty", components.QUANTITY),
    {"field": "status", "headerName": "Status"},
    {"field": "reject_reason", "headerName": "Reject reason", "minWidth": 160},
]


def toolbar() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(html.H1("Fund overview", className="h4 mb-0"), xs=12, md="auto", className="me-md-auto"),
            components.time_range_picker(ids.TIME_RANGE),
            components.refresh_picker(ids.REFRESH_EVERY),
            components.refresh_and_json_buttons(ids.REFRESH_NOW, ids.DOWNLOAD_JSON_BUTTON),
        ],
        className="g-2 align-items-center mb-3",
    )


def layout(**_kwargs):
    kpis = dbc.Row(
        [
            dbc.Col(
                components.kpi_card(label, DEFINITIONS[key], label_id=ids.kpi_label(key), value_id=ids.kpi(key),
                                    sub_id=ids.kpi_sub(key)),
                xs=6, md=4, xl=2,
            )
            for key, label in ids.KPI_CARDS
        ],
        className="g-2",
    )
    risk_body = html.Div(
        [
            html.Div(
                [
                    html.Span(label, id=ids.risk_label(key), className="text-body-secondary kpi-label"),
                    html.Span("—", id=ids.risk(key), className="fw-semibold"),
                    dbc.Tooltip(DEFINITIONS[key], target=ids.risk_label(key), placement="left"),
                ],
                className="d-flex justify-content-between border-bottom py-1",
            )
            for key, label in ids.RISK_ROWS
        ],
        id=ids.RISK,
    )
    chart_config = components.CHART_CONFIG
    body = html.Div(
        [
            html.Div([html.Div(id=ids.error("kpis"), **{"aria-live": "polite"}), html.Small(id=ids.freshness("kpis"), className="text-body-secondary")],
                     className="d-flex justify-content-between"),
            dcc.Loading(kpis, type="dot", delay_show=400),
            dbc.Row(
                [
                    dbc.Col(panel("equity", "Equity and drawdown",
                                  components.chart(dcc.Graph(id=ids.EQUITY_CHART, config=chart_config,
                                                             style={"height": "360px"}), "Equity and drawdown")),
                            lg=8),
                    dbc.Col(panel("allocation", "Allocation by strategy",
                                  components.chart(dcc.Graph(id=ids.ALLOCATION_CHART, config=chart_config,
                                                             style={"height": "360px"}), "Allocation by strategy")),
                            lg=4),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(
                [
                    dbc.Col(panel("risk", "Risk", risk_body), lg=4),
                    dbc.Col(panel("returns", "Daily returns",
                                  components.chart(dcc.Graph(id=ids.RETURNS_CHART, config=chart_config,
                                                             style={"height": "300px"}), "Daily returns")),
                            lg=8),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(
                [
                    dbc.Col(panel("strategies", "Strategies", grid(ids.STRATEGIES_GRID, STRATEGY_COLUMNS, fixed_height=False),
                                  extra=csv_button(ids.STRATEGIES_GRID)), xl=7),
                    dbc.Col(panel("accounts", "Accounts", grid(ids.ACCOUNTS_GRID, ACCOUNT_COLUMNS, fixed_height=False),
                                  extra=csv_button(ids.ACCOUNTS_GRID)), xl=5),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(
                dbc.Col(panel("positions", "Open positions (live prices)", grid(POSITIONS_GRID, POSITION_COLUMNS),
                              extra=csv_button(POSITIONS_GRID))),
                className="g-3 mt-1",
            ),
            dbc.Row(
                dbc.Col(panel("signals", "Recent signals", grid(ids.SIGNALS_GRID, SIGNAL_COLUMNS),
                              extra=csv_button(ids.SIGNALS_GRID))),
                className="g-3 mt-1 mb-4",
            ),
        ],
        id=ids.BODY,
    )
    return components.dashboard_page(toolbar(), ids, body)
