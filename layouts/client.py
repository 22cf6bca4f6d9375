"""The client dashboard page: how the fund is doing."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import client_ids as ids
from layouts.definitions import DEFINITIONS

dash.register_page(
    __name__,
    path="/client",
    name="Client",
    title="Client dashboard · tradeboard",
    description="How the fund is doing: AUM, equity, PnL, margin, accounts, strategies and risk.",
    order=1,
)

TIME_RANGES = [("7d", "7D"), ("30d", "30D"), ("90d", "90D"), ("1y", "1Y"), ("all", "All")]
REFRESH_CHOICES = [("0", "Off"), ("5", "5 s"), ("30", "30 s"), ("60", "1 min"), ("300", "5 min")]

_GRID_STYLE = {"height": "320px", "width": "100%"}


def panel(key: str, title: str, body, *, extra=None) -> dbc.Card:
    """A card with a title, a freshness label, an error slot and the panel's body."""
    header = html.Div(
        [
            html.H2(title, className="h6 mb-0 me-auto"),
            extra,
            html.Small(id=ids.freshness(key), className="text-body-secondary ms-2 text-nowrap"),
        ],
        className="d-flex flex-wrap align-items-center gap-2",
    )
    return dbc.Card(
        dbc.CardBody([header, html.Div(id=ids.error(key)), body], className="d-flex flex-column gap-2"),
        className="h-100 shadow-sm",
    )


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
    return dbc.Button("CSV", id=ids.csv_button(grid_id), size="sm", color="secondary", outline=True)


def _money(field: str, header: str) -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned", "minWidth": 135,
            "valueFormatter": {"function": "params.value == null ? '—' : d3.format(',.2f')(params.value)"}}


def _pct(field: str, header: str) -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned",
            "valueFormatter": {"function": "params.value == null ? '—' : d3.format('.1f')(params.value) + ' %'"}}


def _number(field: str, header: str, fmt: str = ".2f") -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned",
            "valueFormatter": {"function": f"params.value == null ? '—' : d3.format('{fmt}')(params.value)"}}


ACCOUNT_COLUMNS = [
    {"field": "account_name", "headerName": "Account", "pinned": "left", "minWidth": 170},
    {"field": "broker", "headerName": "Broker"},
    _money("equity", "Equity"),
    _money("cash", "Cash"),
    _money("margin_used", "Margin used"),
    _pct("margin_utilization", "Margin %"),
    _money("unrealized_pnl", "Unrealized PnL"),
    _money("pnl", "PnL"),
]

STRATEGY_COLUMNS = [
    {"field": "strategy_name", "headerName": "Strategy", "pinned": "left", "minWidth": 210},
    {"field": "status", "headerName": "Status"},
    {**_number("allocation", "Allocation", ".0%")},
    _money("pnl", "PnL"),
    _pct("pnl_pct", "PnL %"),
    _pct("win_rate", "Win rate"),
    _number("number_of_trades", "Trades", ",d"),
    _number("sharpe_ratio", "Sharpe"),
]

SIGNAL_COLUMNS = [
    {"field": "received_at", "headerName": "Received (UTC)", "minWidth": 170},
    {"field": "strategy_name", "headerName": "Strategy"},
    {"field": "symbol", "headerName": "Symbol"},
    {"field": "side", "headerName": "Side"},
    _number("quantity", "Qty", ",.0f"),
    {"field": "status", "headerName": "Status"},
    {"field": "reject_reason", "headerName": "Reject reason", "minWidth": 160},
]


def toolbar() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(html.H1("Fund overview", className="h4 mb-0"), xs=12, md="auto", className="me-md-auto"),
            dbc.Col(
                dbc.RadioItems(
                    id=ids.TIME_RANGE,
                    options=[{"label": label, "value": value} for value, label in TIME_RANGES],
                    value="90d",
                    inline=True,
                    className="btn-group btn-group-sm",
                    inputClassName="btn-check",
                    labelClassName="btn btn-outline-primary",
                    labelCheckedClassName="active",
                ),
                xs="auto",
                className="tb-radio-group",
            ),
            dbc.Col(
                dbc.InputGroup(
                    [
                        dbc.InputGroupText("Auto-refresh"),
                        dbc.Select(id=ids.REFRESH_EVERY, options=[{"label": l, "value": v} for v, l in REFRESH_CHOICES],
                                   value="30"),
                    ],
                    size="sm",
                ),
                xs="auto",
            ),
            dbc.Col(
                dbc.ButtonGroup(
                    [
                        dbc.Button("Refresh", id=ids.REFRESH_NOW, size="sm", color="primary",
                                   title="Rebuild every panel from the database now"),
                        dbc.Button("JSON", id=ids.DOWNLOAD_JSON_BUTTON, size="sm", color="secondary", outline=True,
                                   title="Download the whole dashboard as JSON"),
                    ]
                ),
                xs="auto",
            ),
        ],
        className="g-2 align-items-center mb-3",
    )


def layout(**_kwargs):
    kpis = dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(
                        [
                            html.Div(label, id=ids.kpi_label(key), className="small text-body-secondary kpi-label"),
                            html.Div("—", id=ids.kpi(key), className="fs-4 fw-semibold kpi-value"),
                            html.Div(id=ids.kpi_sub(key), className="small"),
                            dbc.Tooltip(DEFINITIONS[key], target=ids.kpi_label(key), placement="bottom"),
                        ]
                    ),
                    className="h-100 shadow-sm",
                ),
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
    chart_config = {"displaylogo": False, "responsive": True}
    return dbc.Container(
        [
            toolbar(),
            dcc.Store(id=ids.DOCUMENT),
            dcc.Interval(id=ids.TICK, interval=30_000, disabled=False),
            dcc.Interval(id=ids.CLOCK, interval=5_000),  # re-ages the "updated N s ago" labels
            dcc.Download(id=ids.DOWNLOAD_JSON),
            html.Div(id=ids.STATUS),
            html.Div([html.Div(id=ids.error("kpis")), html.Small(id=ids.freshness("kpis"), className="text-body-secondary")],
                     className="d-flex justify-content-between"),
            dcc.Loading(kpis, type="dot", delay_show=400),
            dbc.Row(
                [
                    dbc.Col(panel("equity", "Equity and drawdown",
                                  dcc.Graph(id=ids.EQUITY_CHART, config=chart_config, style={"height": "360px"})),
                            lg=8),
                    dbc.Col(panel("allocation", "Allocation by strategy",
                                  dcc.Graph(id=ids.ALLOCATION_CHART, config=chart_config, style={"height": "360px"})),
                            lg=4),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(
                [
                    dbc.Col(panel("risk", "Risk", risk_body), lg=4),
                    dbc.Col(panel("returns", "Daily returns",
                                  dcc.Graph(id=ids.RETURNS_CHART, config=chart_config, style={"height": "300px"})),
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
                dbc.Col(panel("signals", "Recent signals", grid(ids.SIGNALS_GRID, SIGNAL_COLUMNS),
                              extra=csv_button(ids.SIGNALS_GRID))),
                className="g-3 mt-1 mb-4",
            ),
        ],
        fluid=True,
        className="py-3",
    )
