"""The strategy-performance page: which backtested configurations work, and where."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import backtest_form, components
from layouts import strategies_ids as ids
from layouts.components import money_column, number_column, pct_column

dash.register_page(
    __name__,
    path="/strategies",
    name="Strategies",
    title="Strategy performance · tradeboard",
    description="Backtested configurations by volatility regime, symbol and parameters, with a drill-down into runs.",
    order=4,
)

TIME_RANGES = [("7d", "7D"), ("30d", "30D"), ("90d", "90D"), ("all", "All")]  # data_access.strategy_dashboard's
DEFAULT_TIME_RANGE = "30d"
_GRID_STYLE = {"height": "380px", "width": "100%"}
_TRADES_GRID_STYLE = {"height": "300px", "width": "100%"}


def panel(key: str, title: str, body, *, extra=None) -> dbc.Card:
    return components.panel(title, ids.freshness(key), ids.error(key), body, extra=extra)


def graph(graph_id: str, height: int, name: str):
    return components.chart(dcc.Graph(id=graph_id, config=components.CHART_CONFIG, style={"height": f"{height}px"}),
                            name)


def grid(grid_id: str, columns: list[dict], style: dict, **kwargs) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 100},
        columnSize="responsiveSizeToFit",
        csvExportParams={"fileName": f"{grid_id.removeprefix('strategies-')}.csv"},
        className="ag-theme-quartz",
        style=style,
        **kwargs,
    )


CONFIGURATION_COLUMNS = [
    {"field": "configuration", "headerName": "Configuration", "pinned": "left", "minWidth": 260,
     "tooltipField": "configuration"},
    {"field": "strategy_kind", "headerName": "Kind", "minWidth": 150},
    number_column("count", "Runs", ",d"),
    number_column("symbols", "Symbols", ",d"),
    number_column("avg_sharpe", "Mean Sharpe"),
    number_column("best_sharpe", "Best Sharpe"),
    pct_column("avg_return_pct", "Mean return", signed=True),
    pct_column("avg_max_drawdown_pct", "Mean max DD"),
    pct_column("avg_win_rate_pct", "Mean win rate"),
    number_column("total_trades", "Trades", ",d"),
    {"field": "latest_run_id", "headerName": "Latest run", "type": "rightAligned", "minWidth": 115,
     "headerTooltip": "The configuration's latest run: click the row to open it below",
     "valueFormatter": {"function": "params.value == null ? '—' : 'run ' + params.value"},
     "cellClass": "tb-run-link"},
]

TRADE_COLUMNS = [
    {"field": "side", "headerName": "Side", "minWidth": 80},
    number_column("size", "Size", ",d"),
    {"field": "entry_time", "headerName": "Entry (UTC)", "minWidth": 120,
     "valueFormatter": {"function": "params.value ? params.value.slice(0, 10) : '—'"}},
    money_column("entry_price", "Entry price"),
    {"field": "exit_time", "headerName": "Exit (UTC)", "minWidth": 120,
     "valueFormatter": {"function": "params.value ? params.value.slice(0, 10) + (params.data.closed_at_end ? ' (end)' : '') : '—'"}},
    money_column("exit_price", "Exit price"),
    money_column("pnl", "PnL", signed=True),
    money_column("commission", "Commission"),
]


def time_range_picker() -> dbc.Col:
    """The page's ranges (no 1y: the strategy document has 7d/30d/90d/all) as one button group."""
    return components.time_range_picker(ids.TIME_RANGE, DEFAULT_TIME_RANGE, TIME_RANGES)


def toolbar() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(
                [html.H1("Strategy performance", className="h4 mb-0"),
                 html.Div([html.Span("—", id=ids.BACKTEST_COUNT), " · ", html.Span("—", id=ids.LAST_UPDATED)],
                          className="small text-body-secondary")],
                xs=12, md="auto", className="me-md-auto"),
            time_range_picker(),
            components.refresh_picker(ids.REFRESH_EVERY, value="60"),
            components.refresh_and_json_buttons(ids.REFRESH_NOW, ids.DOWNLOAD_JSON_BUTTON),
        ],
        className="g-2 align-items-center mb-3",
    )


def _axis_picker(label: str, component_id: str) -> dbc.Col:
    return dbc.Col(
        dbc.InputGroup([dbc.InputGroupText(label), html.Div(
            dcc.Dropdown(id=component_id, clearable=False, searchable=False, className="tb-strat-dropdown"),
            className="flex-grow-1")], size="sm", className="flex-nowrap"),
        xs=12, sm=4)


def heatmap_body() -> html.Div:
    return html.Div(
        [
            dbc.Row([_axis_picker("Kind", ids.HEATMAP_KIND), _axis_picker("X", ids.HEATMAP_X),
                     _axis_picker("Y", ids.HEATMAP_Y)], className="g-2"),
            graph(ids.HEATMAP_CHART, 340, "Parameter heatmap"),
        ],
        className="d-flex flex-column gap-2",
    )


def drilldown() -> dbc.Card:
    header = html.Div(
        [
            html.H2("Run", id=ids.DRILLDOWN_TITLE, className="h6 mb-0 me-auto"),
            dcc.Link("Open in playback", id=ids.PLAYBACK_LINK, href="/playback", className="btn btn-sm btn-outline-primary"),
            components.csv_button(ids.csv_button(ids.TRADES_GRID)),
        ],
        className="d-flex flex-wrap align-items-center gap-2",
    )
    body = html.Div(
        [
            header,
            html.Div(id=ids.error("drilldown"), **{"aria-live": "polite"}),
            html.Div(id=ids.DRILLDOWN_SUMMARY, className="d-flex flex-wrap gap-2 small"),
            dbc.Row(
                [
                    dbc.Col(graph(ids.CANDLES_CHART, 420, "The run's prices with its entries and exits"), xl=8),
                    dbc.Col(graph(ids.RUN_EQUITY_CHART, 420, "The run's equity"), xl=4),
                ],
                className="g-2",
            ),
            html.H3("Trades", className="h6 mb-0"),
            grid(ids.TRADES_GRID, TRADE_COLUMNS, _TRADES_GRID_STYLE, dashGridOptions={"animateRows": False}),
        ],
        className="d-flex flex-column gap-2",
    )
    return dbc.Card(dbc.CardBody(body), id=ids.DRILLDOWN, className="shadow-sm", style={"display": "none"})


def layout(run: str | None = None, **_kwargs):
    try:
        run_id = int(run) if run else None
    except ValueError:
        run_id = None
    return dbc.Container(
        [
            toolbar(),
            dcc.Store(id=ids.DOCUMENT),
            dcc.Store(id=ids.RUN, data=run_id),
            components.json_download(ids.DOWNLOAD_JSON),
            *components.refresh_timers(ids.TICK, ids.CLOCK),
            html.Div(id=ids.STATUS),
            html.Div(id=ids.EMPTY),
            html.Div(results(), id=ids.BODY),
            dbc.Row(dbc.Col(components.panel("Run a backtest or sweep", ids.freshness("form"), ids.error("form"),
                                             backtest_form.form())), className="g-3 mt-1 mb-4"),
        ],
        fluid=True,
        className="py-3",
    )


def results() -> list:
    """Every panel drawn from completed backtests (what the empty state replaces)."""
    return [
        dbc.Row(
            [
                dbc.Col(panel("volatility", "By volatility regime", graph(ids.VOLATILITY_CHART, 300, "By volatility regime")), lg=5),
                dbc.Col(panel("symbol", "By symbol", graph(ids.SYMBOL_CHART, 300, "By symbol")), lg=7),
            ],
            className="g-3",
        ),
        dbc.Row(
            [
                dbc.Col(panel("heatmap", "Parameter heatmap (mean Sharpe)", heatmap_body()), lg=7),
                dbc.Col(panel("ml", "Sweep recommendation", html.Div(id=ids.ML_CARD)), lg=5),
            ],
            className="g-3 mt-1",
        ),
        dbc.Row(dbc.Col(panel("sharpe", "Sharpe over time", graph(ids.SHARPE_CHART, 260, "Sharpe over time"))), className="g-3 mt-1"),
        dbc.Row(
            dbc.Col(panel("configurations", "Configurations",
                          html.Div([
                              html.Small("Click a row to open its latest run.", id=ids.DRILLDOWN_HINT,
                                         className="text-body-secondary"),
                              grid(ids.CONFIGURATIONS_GRID, CONFIGURATION_COLUMNS, _GRID_STYLE,
                                   dashGridOptions={"animateRows": False, "tooltipShowDelay": 300,
                                                    "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                                     "enableClickSelection": True}},
                                   getRowId="params.data.strategy_kind + '|' + params.data.configuration"),
                          ], className="d-flex flex-column gap-2"),
                          extra=components.csv_button(ids.csv_button(ids.CONFIGURATIONS_GRID)))),
            className="g-3 mt-1",
        ),
        dbc.Row(dbc.Col(drilldown()), className="g-3 mt-1"),
    ]
