"""The default beat schedule (issue 7: hourly :05 aggregation, 30 min stale check, 5 / 15 min
dashboards, 16:30 New York on weekdays) and that every SCHEDULE_* setting moves it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from celery.schedules import crontab

import tasks
from app.config import Settings

EVERY_HOUR, EVERY_DAY = set(range(24)), set(range(7))


def configured_celery(monkeypatch, settings: Settings) -> Celery:
    """A fresh Celery app configured the way `celery -A tasks` configures itself, from ``settings``."""
    monkeypatch.setattr(tasks, "_settings_override", settings)
    app = Celery("schedule-test", set_as_current=False)
    tasks._configure(app)
    return app


def entry(schedule: dict, name: str):
    return schedule[name]["schedule"]


def seconds_until_next_run(app: Celery, schedule: crontab, at_utc: dt.datetime) -> float:
    """When ``schedule`` next fires, seen at ``at_utc`` by an app with ``app``'s timezone."""
    schedule.app = app
    schedule.nowfun = lambda: at_utc.astimezone(ZoneInfo(app.conf.timezone))
    return schedule.remaining_estimate(at_utc - dt.timedelta(minutes=1)).total_seconds()


def test_the_default_schedule_is_the_documented_one():
    schedule = tasks.beat_schedule(Settings())
    aggregation = entry(schedule, "aggregate-strategy-performance")
    assert isinstance(aggregation, crontab)
    assert aggregation.minute == {5} and aggregation.hour == EVERY_HOUR and aggregation.day_of_week == EVERY_DAY
    assert entry(schedule, "check-stale-cache") == 30 * 60
    assert entry(schedule, "refresh-client-dashboard") == 5 * 60
    assert entry(schedule, "refresh-signal-sender-dashboards") == 15 * 60
    eod = entry(schedule, "generate-eod-summary")
    assert isinstance(eod, crontab)
    assert eod.hour == {16} and eod.minute == {30} and eod.day_of_week == {1, 2, 3, 4, 5}  # mon-fri
    assert {e["task"] for e in schedule.values()} >= {
        "tasks.dashboards.aggregate_strategy_performance", "tasks.dashboards.check_stale_cache",
        "tasks.dashboards.refresh_client_dashboard", "tasks.dashboards.refresh_signal_sender_dashboards",
        "tasks.dashboards.generate_eod_summary"}


def test_celery_runs_the_schedule_in_new_york_time(monkeypatch):
    app = configured_celery(monkeypatch, Settings(REDIS_URL="redis://127.0.0.1:1/0"))
    assert app.conf.timezone == "America/New_York" and app.conf.enable_utc is True
    assert set(app.conf.beat_schedule) == set(tasks.beat_schedule(Settings()))
    eod = entry(app.conf.beat_schedule, "generate-eod-summary")
    # Friday 20 Nov 2026 20:00 UTC is 15:00 in New York (EST): the summary is due in 90 minutes,
    # not on Monday (as 16:30 UTC would be).
    assert seconds_until_next_run(app, eod, dt.datetime(2026, 11, 20, 20, 0, tzinfo=dt.UTC)) == 90 * 60
    # Saturday: the next one is Monday 16:30 New York.
    saturday = dt.datetime(2026, 11, 21, 20, 0, tzinfo=dt.UTC)
    assert seconds_until_next_run(app, eod, saturday) == (2 * 24 * 60 + 90) * 60


@pytest.mark.parametrize("setting, value, name, expected", [
    ("SCHEDULE_STRATEGY_AGGREGATION_MINUTE", 17, "aggregate-strategy-performance", {17}),
    ("SCHEDULE_STALE_CHECK_MINUTES", 10, "check-stale-cache", 600.0),
    ("SCHEDULE_CLIENT_REFRESH_SECONDS", 60, "refresh-client-dashboard", 60.0),
    ("SCHEDULE_SIGNAL_SENDER_REFRESH_SECONDS", 120, "refresh-signal-sender-dashboards", 120.0),
    ("SCHEDULE_EOD_SUMMARY", "17:45", "generate-eod-summary", ({17}, {45})),
    ("SCHEDULE_IMPORT_EXPIRY_MINUTES", 15, "expire-uncommitted-imports", 900.0),
])
def test_each_schedule_setting_moves_its_entry(setting, value, name, expected):
    default = tasks.beat_schedule(Settings())
    changed = tasks.beat_schedule(Settings(**{setting: value}))
    got = entry(changed, name)
    if isinstance(got, crontab):
        got = got.minute if name.startswith("aggregate") else (got.hour, got.minute)
    assert got == expected
    assert {k: v for k, v in changed.items() if k != name} == {k: v for k, v in default.items() if k != name}


def test_the_timezone_setting_reaches_celery(monkeypatch):
    app = configured_celery(monkeypatch, Settings(REDIS_URL="redis://127.0.0.1:1/0", SCHEDULE_TIMEZONE="UTC"))
    assert app.conf.timezone == "UTC"
    eod = entry(app.conf.beat_schedule, "generate-eod-summary")
    assert seconds_until_next_run(app, eod, dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)) == 90 * 60


def test_every_task_has_a_soft_and_a_hard_time_limit_and_is_acknowledged_late(monkeypatch):
    """A stuck task is stopped (soft limit raised in it, then the child killed) and a task whose
    worker died is redelivered: per task, or from the app's defaults."""
    app = configured_celery(monkeypatch, Settings(REDIS_URL="redis://127.0.0.1:6379/15"))
    tasks.celery_app.loader.import_default_modules()
    ours = {name: task for name, task in tasks.celery_app.tasks.items() if name.startswith("tasks.")}
    assert {"tasks.dashboards.refresh_client_dashboard", "tasks.backtests.run_member",
            "tasks.playback.run_live", "tasks.heartbeat.beat_pulse"} <= set(ours)
    for name, task in ours.items():
        hard = task.time_limit or app.conf.task_time_limit
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        assert hard and soft and soft < hard, (name, soft, hard)
        acks_late = task.acks_late if task.acks_late is not None else app.conf.task_acks_late
        assert acks_late, name
    assert app.conf.task_reject_on_worker_lost is True
    # a worker killed while holding the restore sweep's mutex must not block restores for long
    assert app.conf.broker_transport_options["unacked_mutex_expire"] == tasks.UNACKED_MUTEX_SECONDS <= 30
