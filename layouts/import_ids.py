"""Component ids of the /import page (prefixed `import-`), typed once, and the entities' names as it shows them."""

from layouts.ids import panel_ids

freshness, error = panel_ids("import")

CURRENT = "import-current"  # dcc.Store: {"id": the import on the page} or {"error": why the upload failed}
UPLOAD = "import-upload"
UPLOAD_PROGRESS = "import-upload-progress"
UPLOAD_STATUS = "import-upload-status"
ROLE_NOTE = "import-role-note"
FILE_SUMMARY = "import-file-summary"

MAP_STEP = "import-map-step"
ENTITY = "import-entity"
DETECTED = "import-detected"
PRESET = "import-preset"
MAPPING = "import-mapping"  # the dropdowns, one per field
MAP_FIELD = "import-map-field"  # pattern id type: {"type": MAP_FIELD, "field": name}
IBKR_OPTIONS = "import-ibkr-options"
STRATEGY = "import-strategy"
TIMEZONE = "import-timezone"
PRESET_NAME = "import-preset-name"
SAVE_PRESET = "import-save-preset"
PRESET_STATUS = "import-preset-status"
PREVIEW_GRID = "import-preview-grid"
PREVIEW_NOTE = "import-preview-note"

CHECK = "import-check"
CHECK_STEP = "import-check-step"
CHECK_STATUS = "import-check-status"
PROBLEMS_GRID = "import-problems-grid"
PROBLEMS_DOWNLOAD = "import-problems-download"
COMMIT = "import-commit"
PROGRESS = "import-progress"
PROGRESS_LABEL = "import-progress-label"
SUMMARY = "import-summary"
POLL = "import-poll"

HISTORY_GRID = "import-history-grid"
HISTORY_REFRESH = "import-history-refresh"
HISTORY_POLL = "import-history-poll"
UNDO = "import-undo"
UNDO_STATUS = "import-undo-status"
UNDO_PENDING = "import-undo-pending"  # dcc.Store: the id of the undo being followed

ENTITY_LABELS = {
    "accounts": "Accounts", "account-snapshots": "Account snapshots", "strategies": "Strategies",
    "signals": "Signals", "executions": "Executions (fills)", "paper-accounts": "Paper accounts",
    "paper-trades": "Paper trades", "paper-signals": "Paper signals", "bars": "Price bars",
}
