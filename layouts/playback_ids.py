"""Component ids of the playback page (prefixed `playback-`), typed once."""

INIT = "playback-init"  # {"run": id | None, "live": id | None} from the URL
SOURCE = "playback-source"  # {"mode": "replay", "run": id} | {"mode": "live", "live": id}
LOADED = "playback-loaded"  # the loader's answer: {"key", "total", "error"}
VIEW = "playback-view"  # the player after a control moved it (not a tick): {"pos", "playing", "win"}
URL = "playback-url"

RUN_PICKER = "playback-run"
RUN_HEADER = "playback-run-header"

FORM_SYMBOL = "playback-form-symbol"
FORM_KIND = "playback-form-kind"
FORM_PARAMS = "playback-form-params"
FORM_PARAM = "playback-form-param"  # pattern-matching: {"type": FORM_PARAM, "name": ...}
FORM_CASH = "playback-form-cash"
FORM_START = "playback-form-start"
FORM_MESSAGE = "playback-form-message"

PLAY = "playback-play"
STEP = "playback-step"
RESTART = "playback-restart"
SEEK_TO = "playback-seek-to"
SEEK = "playback-seek"
SPEED = "playback-speed"
WINDOW = "playback-window"
TICK = "playback-tick"  # the player's interval: its `interval` follows the speed and the work per tick
STATUS = "playback-status"
ANNOUNCE = "playback-announce"  # a polite live region: the player's state, every tenth of the run
KEYS_HINT = "playback-keys-hint"
EMPTY = "playback-empty"  # the empty state over an empty book (components.empty_state)
BODY = "playback-body"  # what the empty state replaces

CHART = "playback-chart"  # lightweight-charts draws into it (assets/playback_chart.js)
CHART_SUMMARY = f"{CHART}-summary"  # its one-line text summary (layouts.components.chart)
ATTRIBUTION = "playback-attribution"

PROGRESS_TEXT = "playback-progress-text"
PROGRESS_PCT = "playback-progress-pct"
PROGRESS_BAR = "playback-progress-bar"
TRADES = "playback-trades"
TRADES_WL = "playback-trades-wl"
WIN_RATE = "playback-win-rate"
WIN_BAR = "playback-win-bar"
PNL = "playback-pnl"
PNL_PCT = "playback-pnl-pct"

LOG_BODY = "playback-log-body"  # its rows are written by assets/playback.js
LOG_CSV = "playback-log-csv"
LOG_DOWNLOAD = "playback-log-download"

SPEEDS = [1, 2, 5, 10, 20, 30, 60, 120, 200, 500]
WINDOWS = [("100", "100 bars"), ("300", "300 bars"), ("1000", "1,000 bars"), ("all", "All")]
DEFAULT_SPEED = 30
DEFAULT_WINDOW = "300"
LOG_ROWS = 10

CLIENT_IDS = "playback-client-ids"  # a hidden element whose data-ids hands the ids below to assets/playback*.js


def client_ids() -> dict:
    """The ids the clientside player and chart look up, by the names they use; ``cards`` in the order
    the player's ``cards()`` returns their values."""
    return {"announce": ANNOUNCE, "logBody": LOG_BODY, "play": PLAY, "step": STEP, "seek": SEEK, "seekTo": SEEK_TO,
            "status": STATUS, "tick": TICK, "loaded": LOADED, "window": WINDOW, "restart": RESTART, "speed": SPEED,
            "chart": CHART, "chartSummary": CHART_SUMMARY,
            "cards": [PROGRESS_TEXT, PROGRESS_PCT, PROGRESS_BAR, TRADES, TRADES_WL, WIN_RATE, WIN_BAR, PNL, PNL_PCT]}
