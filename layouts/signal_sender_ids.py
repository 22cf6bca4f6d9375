"""Component ids of the signal-sender page (prefixed `sender-`), typed once, and its KPI definitions."""

from layouts.ids import csv_button, id_helper, panel_ids  # noqa: F401 - csv_button: read as ids.csv_button

STRATEGY = "sender-strategy"
INIT = "sender-init"
TIME_RANGE = "sender-time-range"
REFRESH_EVERY = "sender-refresh-every"
REFRESH_NOW = "sender-refresh-now"
TICK = "sender-tick"
CLOCK = "sender-clock"
DOCUMENT = "sender-document"
STATUS = "sender-status"
EMPTY = "sender-empty"  # the empty state over an empty book (components.empty_state)
BODY = "sender-body"  # what the empty state replaces
PURGED = "sender-history-purged"
HISTORY_CSV = "sender-history-csv-download"
DOWNLOAD_JSON = "sender-download-json"
DOWNLOAD_JSON_BUTTON = "sender-download-json-button"
DEVELOPER = "sender-developer"

PNL_CHART = "sender-pnl-chart"
LATENCY_CHART = "sender-latency-chart"
REJECTIONS_CHART = "sender-rejections-chart"
HISTORY_GRID = "sender-history-grid"
POSITIONS_GRID = "sender-positions-grid"
LAG_SUMMARY = "sender-lag-summary"

# panel -> the document section it shows (for its freshness label and error slot)
PANELS = {
    "kpis": "signals",
    "pnl": "trades",
    "latency": "signals",
    "rejections": "signals",
    "history": "history",
    "positions": "positions",
}


freshness, error = panel_ids("sender")


KPI_CARDS = [
    ("total_signals_sent", "Signals sent"),
    ("signals_filled", "Filled"),
    ("signals_rejected", "Rejected"),
    ("fill_rate", "Fill rate"),
    ("total_pnl", "PnL"),
    ("win_rate", "Win rate"),
    ("profit_factor", "Profit factor"),
    ("sharpe_ratio", "Sharpe"),
]

DEFINITIONS = {
    "total_signals_sent": "All signals the strategy sent in the range, any status.",
    "signals_filled": "Signals with status FILLED in the range.",
    "signals_rejected": "Signals with status REJECTED in the range (reasons below).",
    "fill_rate": "Filled / sent x 100; rejected, cancelled and pending signals count as sent.",
    "total_pnl": "Realized PnL of trades closed in the range + unrealized PnL of open positions at the latest close.",
    "win_rate": "Winning closed trades / closed trades x 100; breakeven is not a win.",
    "profit_factor": "Sum of winning PnL / |sum of losing PnL|; — when there are no losers.",
    "sharpe_ratio": "Annualised mean / std of the daily returns of allocated capital + cumulative realized PnL.",
}


kpi = id_helper("sender-kpi-{}")
kpi_sub = id_helper("sender-kpi-sub-{}")
kpi_label = id_helper("sender-kpi-label-{}")
