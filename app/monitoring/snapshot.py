"""The /ops document: health, request figures, hit rates, keys and tasks in one JSON-ready dict."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.monitoring.figures import cache_keys, family_stats, request_stats
from app.monitoring.keys import REDIS_TIMEOUT
from app.monitoring.schedule import scheduled_tasks
from data_access.cache import sections


def snapshot(app_state, *, key_limit: int = 500, run_limit: int = 50) -> dict[str, Any]:
    """Everything /ops shows, JSON-ready: health, request figures, hit rates, keys, tasks."""
    from data_access import task_runs

    settings = app_state.settings
    health, _status = app_state.health()
    client = app_state.redis(REDIS_TIMEOUT)
    out: dict[str, Any] = {"health": health, "cache": sections.status(), "window_seconds": settings.MONITOR_WINDOW_SECONDS,
                           "slow_request_seconds": settings.SLOW_REQUEST_SECONDS, "families": sorted(sections.families),
                           "requests": [], "family_stats": [], "cache_keys": {"keys": [], "truncated": False,
                                                                              "limit": key_limit, "generations": {}},
                           "tasks": [], "recent_runs": [], "errors": {}}
    if client is not None and health["redis"]["ok"]:
        for name, read in (("requests", lambda: request_stats(client, settings.MONITOR_WINDOW_SECONDS)),
                           ("family_stats", lambda: family_stats(client)),
                           ("cache_keys", lambda: cache_keys(client, key_limit)),
                           ("tasks", lambda: scheduled_tasks(settings)),
                           ("recent_runs", lambda: task_runs.recent_runs(run_limit))):
            try:
                out[name] = read()
            except Exception as exc:  # noqa: BLE001 - one panel's failure must not take the page down
                out["errors"][name] = f"{type(exc).__name__}: {exc}"
    else:
        out["errors"]["redis"] = "Redis is unavailable: no request figures, hit rates, keys or task runs"
    out["timestamp"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return out
