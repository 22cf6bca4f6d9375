"""Warmers: build dashboards with force, through the same data_access functions the pages and the
API call, so a warmed key is exactly the key a page reads."""

from __future__ import annotations

import logging
import time

from tasks import celery_app

log = logging.getLogger(__name__)

RETRY = {"autoretry_for": (Exception,), "retry_backoff": 1, "retry_backoff_max": 8, "retry_jitter": False,
         "max_retries": 4}  # 1 s, 2 s, 4 s, 8 s, then give up


@celery_app.task(name="tasks.dashboards.refresh_client_dashboard", time_limit=300, soft_time_limit=240, **RETRY)
def refresh_client_dashboard() -> dict:
    """Rebuild the client dashboard for every time range; returns what was built and how long it took."""
    from app.config import Settings
    from data_access.client_dashboard import TIME_RANGES, client_dashboard_for

    settings = Settings.from_env()
    built = {}
    for time_range in TIME_RANGES:
        started = time.perf_counter()
        doc = client_dashboard_for(settings, time_range, force=True)
        if doc.get("errors"):
            raise RuntimeError(f"client dashboard {time_range} had failing sections: {doc['errors']}")
        built[time_range] = round((time.perf_counter() - started) * 1000, 1)
    log.info("client dashboard warmed: %s (ms per time range)", built)
    return {"dashboard": "client", "built_ms": built}
