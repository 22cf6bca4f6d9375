"""Component ids of the operations page (prefixed `ops-`), typed once."""

REFRESH_EVERY = "ops-refresh-every"
REFRESH_NOW = "ops-refresh-now"
TICK = "ops-tick"
CLOCK = "ops-clock"
DOCUMENT = "ops-document"
STATUS = "ops-status"
EMPTY = "ops-empty"  # says the book is empty (the system figures still show)
ACTION_DONE = "ops-action-done"  # a store bumped by each admin action, so the page reloads after it

REQUESTS_GRID = "ops-requests-grid"
P95_CHART = "ops-p95-chart"
FAMILIES_GRID = "ops-families-grid"
HIT_RATE_CHART = "ops-hit-rate-chart"
TASKS_GRID = "ops-tasks-grid"
RUNS_GRID = "ops-runs-grid"
KEYS_GRID = "ops-keys-grid"
GRIDS = (REQUESTS_GRID, FAMILIES_GRID, TASKS_GRID, RUNS_GRID, KEYS_GRID)  # each with a CSV button
KEYS_NOTE = "ops-keys-note"
WINDOW_NOTE = "ops-window-note"

REFRESH_DASHBOARDS = "ops-refresh-dashboards"
REFRESH_RESULT = "ops-refresh-result"
CLEAR_FAMILY = "ops-clear-family"
CLEAR_FAMILY_BUTTON = "ops-clear-family-button"
CLEAR_RESULT = "ops-clear-result"

# health cards: (key, label, definition)
HEALTH_CARDS = [
    ("database", "Database", "Answers SELECT 1 (latency shown)."),
    ("redis", "Redis", "Answers PING: the cache, the broker and these figures live there."),
    ("workers", "Workers", "Celery workers whose heartbeat (every 10 s, kept 30 s) is in Redis."),
    ("beat", "Beat", "Celery beat's pulse task runs every 30 s; gone after 90 s without one."),
    ("cache", "Section cache", "Degraded: this web process serves dashboards straight from the database."),
]

# every panel has a freshness label and an error slot; panel -> the snapshot part it shows
PANELS = {
    "requests": "requests",
    "families": "family_stats",
    "tasks": "tasks",
    "runs": "recent_runs",
    "keys": "cache_keys",
}


def health_value(key: str) -> str:
    return f"ops-health-{key}"


def health_sub(key: str) -> str:
    return f"ops-health-sub-{key}"


def health_label(key: str) -> str:
    return f"ops-health-label-{key}"


def freshness(panel: str) -> str:
    return f"ops-{panel}-freshness"


def error(panel: str) -> str:
    return f"ops-{panel}-error"


def csv_button(grid: str) -> str:
    return f"{grid}-csv"
