"""Component ids of the strategy-performance page (prefixed `strategies-`), typed once."""

from layouts.ids import csv_button, panel_ids  # noqa: F401 - csv_button: read as ids.csv_button

TIME_RANGE = "strategies-time-range"
REFRESH_EVERY = "strategies-refresh-every"
REFRESH_NOW = "strategies-refresh-now"
TICK = "strategies-tick"
CLOCK = "strategies-clock"
DOCUMENT = "strategies-document"
STATUS = "strategies-status"
EMPTY = "strategies-empty"  # the empty state over an empty book (components.empty_state)
BODY = "strategies-body"  # what the empty state replaces
DOWNLOAD_JSON = "strategies-download-json"
DOWNLOAD_JSON_BUTTON = "strategies-download-json-button"
BACKTEST_COUNT = "strategies-backtest-count"
LAST_UPDATED = "strategies-last-updated"

VOLATILITY_CHART = "strategies-volatility-chart"
SYMBOL_CHART = "strategies-symbol-chart"
SHARPE_CHART = "strategies-sharpe-chart"
HEATMAP_CHART = "strategies-heatmap-chart"
HEATMAP_KIND = "strategies-heatmap-kind"
HEATMAP_X = "strategies-heatmap-x"
HEATMAP_Y = "strategies-heatmap-y"
ML_CARD = "strategies-ml-card"
CONFIGURATIONS_GRID = "strategies-configurations-grid"

# drill-down into one run
RUN = "strategies-run"  # store: the run id shown (from the grid or ?run=)
DRILLDOWN = "strategies-drilldown"
DRILLDOWN_TITLE = "strategies-drilldown-title"
DRILLDOWN_SUMMARY = "strategies-drilldown-summary"
DRILLDOWN_HINT = "strategies-drilldown-hint"
PLAYBACK_LINK = "strategies-playback-link"
CANDLES_CHART = "strategies-candles-chart"
RUN_EQUITY_CHART = "strategies-run-equity-chart"
TRADES_GRID = "strategies-trades-grid"

# panel -> document section (freshness label and error slot per panel)
PANELS = {
    "volatility": "byVolatility",
    "symbol": "bySymbol",
    "sharpe": "sharpeOverTime",
    "heatmap": "heatmap",
    "ml": "mlOptimization",
    "configurations": "configurations",
}


freshness, error = panel_ids("strategies")


# the "Run backtest / sweep" form (layouts/backtest_form.py, callbacks/backtest_form.py)
FORM_KIND = "strategies-form-kind"
FORM_SYMBOLS = "strategies-form-symbols"
FORM_PARAMS = "strategies-form-params"
FORM_PARAM = "strategies-form-param"  # pattern-matching type: {"type": FORM_PARAM, "name": <parameter>}
FORM_CASH = "strategies-form-cash"
FORM_START = "strategies-form-start"
FORM_END = "strategies-form-end"
FORM_RUN = "strategies-form-run"
FORM_CANCEL = "strategies-form-cancel"
FORM_MESSAGE = "strategies-form-message"
FORM_PROGRESS = "strategies-form-progress"
FORM_TICKET = "strategies-form-ticket"  # store: the signed, validated request the background job runs
FORM_TASK = "strategies-form-task"  # store: the running sweep's task id (for cancel)
FORM_DONE = "strategies-form-done"  # store: set when a sweep finishes (the dashboard reloads)
