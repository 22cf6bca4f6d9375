"""Component ids of the client dashboard page (prefixed `client-`), typed once."""

from layouts.ids import csv_button, id_helper, panel_ids  # noqa: F401 - csv_button: read as ids.csv_button

TIME_RANGE = "client-time-range"
REFRESH_EVERY = "client-refresh-every"
REFRESH_NOW = "client-refresh-now"
TICK = "client-tick"
CLOCK = "client-clock"
DOCUMENT = "client-document"
DOWNLOAD_JSON = "client-download-json"
DOWNLOAD_JSON_BUTTON = "client-download-json-button"
STATUS = "client-status"
EMPTY = "client-empty"  # the empty state over an empty book (components.empty_state)
BODY = "client-body"  # what the empty state replaces

KPIS = "client-kpis"
EQUITY_CHART = "client-equity-chart"
ALLOCATION_CHART = "client-allocation-chart"
RETURNS_CHART = "client-returns-chart"
RISK = "client-risk"
ACCOUNTS_GRID = "client-accounts-grid"
STRATEGIES_GRID = "client-strategies-grid"
SIGNALS_GRID = "client-signals-grid"

# every panel has a freshness label and an error slot: f"{panel}-freshness", f"{panel}-error"
PANELS = {
    "kpis": "accounts",
    "equity": "equity",
    "allocation": "strategy_performance",
    "risk": "equity",
    "returns": "equity",
    "accounts": "accounts",
    "strategies": "strategy_performance",
    "signals": "recent_signals",
}


freshness, error = panel_ids("client")


# KPI cards and risk rows: (document key, label); their ids derive from the key.
KPI_CARDS = [
    ("total_aum", "Total AUM"),
    ("total_equity", "Total equity"),
    ("total_pnl", "Total PnL"),
    ("margin_utilization", "Margin used"),
    ("number_of_strategies", "Active strategies"),
    ("open_positions", "Open positions"),
]

RISK_ROWS = [
    ("max_drawdown", "Max drawdown"),
    ("var_95", "VaR 95 (historical)"),
    ("var_95_parametric", "VaR 95 (parametric)"),
    ("cvar_95", "CVaR 95"),
    ("portfolio_beta", "Beta"),
    ("volatility", "Volatility (ann.)"),
    ("sharpe_ratio", "Sharpe"),
    ("sortino_ratio", "Sortino"),
]


kpi = id_helper("client-kpi-{}")
kpi_sub = id_helper("client-kpi-sub-{}")
kpi_label = id_helper("client-kpi-label-{}")
risk = id_helper("client-risk-{}")
risk_label = id_helper("client-risk-label-{}")
