"""Component ids of the operations page (prefixed `ops-`), typed once."""

from layouts.ids import csv_button, id_helper, panel_ids  # noqa: F401 - csv_button: read as ids.csv_button

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


health_value = id_helper("ops-health-{}")
health_sub = id_helper("ops-health-sub-{}")
health_label = id_helper("ops-health-label-{}")


freshness, error = panel_ids("ops")


