"""The beat schedule as /ops shows it: each entry with its task's record, last success and next run."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

log = logging.getLogger(__name__)


def _schedule_celery(timezone: str):
    from celery import Celery

    app = Celery("tradeboard-schedule", set_as_current=False)
    app.conf.timezone = timezone
    app.conf.enable_utc = True
    return app


def scheduled_tasks(settings) -> list[dict[str, Any]]:
    """Every beat entry with its task's record (runs, failures, last start/status/duration/error),
    its last success and its next run, estimated from the last start and the schedule."""
    from celery.schedules import crontab

    import tasks
    from data_access import task_runs

    try:
        schedule = tasks.beat_schedule(settings)
    except Exception:  # noqa: BLE001 - settings the schedule cannot parse: show the defaults
        schedule = tasks.BEAT_SCHEDULE
    names = sorted({entry["task"] for entry in schedule.values()} | set(task_runs.known_tasks()))
    stats = task_runs.task_stats(names)
    successes = _last_successes()
    celery_for_tz = None
    now = time.time()
    rows = []
    for entry_name, entry in schedule.items():
        task = entry["task"]
        info = stats.get(task, {})
        every, next_run = entry["schedule"], None
        last = info.get("last_start")
        if isinstance(every, (int, float)):
            described = _every(float(every))
            next_run = (last + float(every)) if last else None
        elif isinstance(every, crontab):
            described = f"cron {every._orig_minute} {every._orig_hour} {every._orig_day_of_month} " \
                        f"{every._orig_month_of_year} {every._orig_day_of_week} ({settings.SCHEDULE_TIMEZONE})"
            try:
                celery_for_tz = celery_for_tz or _schedule_celery(settings.SCHEDULE_TIMEZONE)
                copy = crontab(minute=every._orig_minute, hour=every._orig_hour,
                               day_of_week=every._orig_day_of_week, day_of_month=every._orig_day_of_month,
                               month_of_year=every._orig_month_of_year, app=celery_for_tz)
                since = dt.datetime.fromtimestamp(last or now, dt.UTC)
                next_run = now + copy.remaining_estimate(since).total_seconds()
            except Exception:  # noqa: BLE001
                log.debug("cannot estimate the next run of %s", entry_name, exc_info=True)
        else:
            described = str(every)
        rows.append({"entry": entry_name, "task": task, "schedule": described, **info,
                     "last_success": successes.get(task) if info.get("last_status") != "success"
                     else info.get("last_end"),
                     "next_run": next_run})
    scheduled = {entry["task"] for entry in schedule.values()}
    for task in names:  # tasks with records that beat does not schedule (queued by hand or by the API)
        if task not in scheduled:
            rows.append({"entry": None, "task": task, "schedule": "on demand", **stats[task],
                         "last_success": successes.get(task), "next_run": None})
    return rows


def _last_successes() -> dict[str, float]:
    from data_access import task_runs

    out: dict[str, float] = {}
    for run in task_runs.recent_runs(task_runs.RECENT):
        if run.get("status") == "success" and run.get("task") not in out:
            out[run["task"]] = run.get("finished")
    return out


def _every(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"every {seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"every {seconds / 60:g} min"
    return f"every {seconds:g} s"
