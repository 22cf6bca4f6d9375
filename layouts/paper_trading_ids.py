"""Component ids of the paper-trading page (prefixed `paper-`), typed once, and its KPI definitions."""

from layouts.ids import csv_button, id_helper, panel_ids  # noqa: F401 - csv_button: read as ids.csv_button

REFRESH_EVERY = "paper-refresh-every"
REFRESH_NOW = "paper-refresh-now"
TICK = "paper-tick"
CLOCK = "paper-clock"
DOCUMENT = "paper-document"
STATUS = "paper-status"
EMPTY = "paper-empty"  # the empty state over an empty book (components.empty_state)
BODY = "paper-body"  # what the empty state replaces
DOWNLOAD_JSON = "paper-download-json"
DOWNLOAD_JSON_BUTTON = "paper-download-json-button"

HEALTH = "paper-health"
GEX = "paper-gex"
METRICS = "paper-metrics"
STATS = "paper-stats"
POSITIONS_SUMMARY = "paper-positions-summary"
SHADOW_SUMMARY = "paper-shadow-summary"
QUEUED_SUMMARY = "paper-queued-summary"
PNL_CHART = "paper-pnl-chart"
RETURNS_CHART = "paper-returns-chart"

POSITIONS_GRID = "paper-positions-grid"
SHADOW_GRID = "paper-shadow-grid"
EXITS_GRID = "paper-exits-grid"
QUEUED_GRID = "paper-queued-grid"
TRADES_GRID = "paper-trades-grid"
SOURCES_GRID = "paper-sources-grid"
TOP_GRID = "paper-top-grid"

GRIDS = (POSITIONS_GRID, SHADOW_GRID, EXITS_GRID, QUEUED_GRID, TRADES_GRID, SOURCES_GRID, TOP_GRID)

# panel -> the document section it shows (its freshness label and error slot); the section's
# name is also its key in the document.
PANELS = {
    "kpis": "overview",
    "health": "health",
    "gex": "gex",
    "positions": "open_positions",
    "shadow": "shadow_positions",
    "exits": "exit_signals",
    "queued": "queued_signals",
    "pnl": "pnl_curve",
    "returns": "daily_returns",
    "metrics": "performance_metrics",
    "stats": "trading_stats",
    "trades": "recent_trades",
    "sources": "source_performance",
    "top": "top_performers",
}


freshness, error = panel_ids("paper")


KPI_CARDS = [
    ("total_pnl", "Total PnL"),
    ("daily_pnl", "Day's PnL"),
    ("win_rate", "Win rate"),
    ("active_trades", "Open trades"),
    ("accounts", "Active accounts"),
    ("equity", "Equity"),
]

DEFINITIONS = {
    "total_pnl": "Realized PnL of every closed paper trade + unrealized PnL of the open ones at live prices.",
    "daily_pnl": "Realized PnL of trades closed today (UTC) + the open book's move today: from each symbol's "
                 "previous daily close (or the entry, for a trade opened today) to the live price.",
    "win_rate": "Winning closed trades / closed trades x 100; breakeven is not a win.",
    "active_trades": "Paper trades open now.",
    "accounts": "Paper accounts holding at least one open trade / all paper accounts.",
    "equity": "Starting capital + total PnL; the return is total PnL / starting capital.",
}

# performance metrics and trading stats: (document key, label); their ids derive from the key
METRIC_ROWS = [
    ("total_trades", "Closed trades"),
    ("win_rate", "Win rate"),
    ("profit_factor", "Profit factor"),
    ("expectancy", "Expectancy / trade"),
    ("avg_win", "Average win"),
    ("avg_loss", "Average loss"),
    ("largest_win", "Largest win"),
    ("largest_loss", "Largest loss"),
    ("sharpe_ratio", "Sharpe"),
    ("sortino_ratio", "Sortino"),
    ("max_drawdown_pct", "Max drawdown"),
]

STAT_ROWS = [
    ("signals_today", "Signals today"),
    ("trades_opened_today", "Trades opened today"),
    ("trades_closed_today", "Trades closed today"),
    ("open_long_short", "Open long / short"),
    ("open_symbols", "Open symbols"),
    ("open_exposure_at_entry", "Exposure at entry"),
]


kpi = id_helper("paper-kpi-{}")
kpi_sub = id_helper("paper-kpi-sub-{}")
kpi_label = id_helper("paper-kpi-label-{}")
metric = id_helper("paper-metric-{}")
stat = id_helper("paper-stat-{}")
