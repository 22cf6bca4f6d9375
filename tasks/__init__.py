"""The Celery app: ``celery -A tasks worker`` and ``celery -A tasks beat`` from the repository root.

Broker and result backend are REDIS_URL (read from the environment through `Settings.from_env()`
when Celery first needs its configuration, so ``import tasks`` never fails; a worker, beat or
``.delay()`` without REDIS_URL stops with a clear error).

Add a task module to `TASK_MODULES`; add periodic work to `beat_schedule()` (timing in settings).
"""

from __future__ import annotations

import logging

from celery import Celery, signals

log = logging.getLogger(__name__)

# Modules whose tasks (and signal handlers) the worker loads. app.dash_jobs builds the Dash app in the
# worker (its background callbacks become tasks): the worker's own composition, named here and imported
# only by the worker, never by this package.
TASK_MODULES = [
    "tasks.heartbeat",
    "tasks.dashboards",
    "tasks.backtests",
    "tasks.runs",
    "app.dash_jobs",
    "tasks.playback",
    "tasks.imports",
    "tasks.cache",
]
CACHE_QUEUE = "cache"  # the queue of stale-section refreshes (tasks/cache.py), consumed by cache workers

def beat_schedule(settings) -> dict[str, dict]:
    """The periodic tasks for `celery -A tasks beat`, from the settings (SCHEDULE_*)."""
    from celery.schedules import crontab

    hour, minute = (int(part) for part in settings.SCHEDULE_EOD_SUMMARY.split(":"))
    return {
        "aggregate-strategy-performance": {"task": "tasks.dashboards.aggregate_strategy_performance",
                                           "schedule": crontab(minute=settings.SCHEDULE_STRATEGY_AGGREGATION_MINUTE)},
        "check-stale-cache": {"task": "tasks.dashboards.check_stale_cache",
                              "schedule": float(settings.SCHEDULE_STALE_CHECK_MINUTES * 60)},
        "refresh-client-dashboard": {"task": "tasks.dashboards.refresh_client_dashboard",
                                     "schedule": float(settings.SCHEDULE_CLIENT_REFRESH_SECONDS)},
        "refresh-signal-sender-dashboards": {"task": "tasks.dashboards.refresh_signal_sender_dashboards",
                                             "schedule": float(settings.SCHEDULE_SIGNAL_SENDER_REFRESH_SECONDS)},
        "refresh-paper-trading-dashboard": {"task": "tasks.dashboards.refresh_paper_trading_dashboard",
                                            "schedule": float(settings.SCHEDULE_PAPER_TRADING_REFRESH_SECONDS)},
        "generate-eod-summary": {"task": "tasks.dashboards.generate_eod_summary",
                                 "schedule": crontab(hour=hour, minute=minute, day_of_week="mon-fri")},
        "recover-stalled-sweeps": {"task": "tasks.backtests.recover_sweeps",
                                   "schedule": float(settings.SCHEDULE_SWEEP_RECOVERY_SECONDS)},
        "beat-pulse": {"task": "tasks.heartbeat.beat_pulse", "schedule": float(settings.SCHEDULE_BEAT_PULSE_SECONDS)},
        "expire-uncommitted-imports": {"task": "tasks.imports.expire_imports",
                                       "schedule": float(settings.SCHEDULE_IMPORT_EXPIRY_MINUTES * 60)},
    }


def _default_schedule() -> dict[str, dict]:
    from app.config import Settings

    return beat_schedule(Settings())


BEAT_SCHEDULE: dict[str, dict] = _default_schedule()  # with default settings, for reference (/ops reads it)

TASK_TIME_LIMIT = 15 * 60  # hard: the child is killed
TASK_SOFT_TIME_LIMIT = 14 * 60  # soft: SoftTimeLimitExceeded is raised in the task
UNACKED_MUTEX_SECONDS = 15  # the restore sweep's mutex (see _configure)

class MissingRedisURL(RuntimeError):
    pass


class TradeboardCelery(Celery):
    def on_configure(self) -> None:  # a method, not the signal: its errors must stop the program
        _configure(self)


_settings_override = None  # the web app's settings, when it dispatches work (see use_settings)


def use_settings(settings) -> Celery:
    """Point the Celery app at ``settings.REDIS_URL`` (the web app's, not the environment's), before
    or after Celery has configured itself: create_app calls this so the API can queue work."""
    global _settings_override
    _settings_override = settings
    if celery_app.configured and celery_app.conf.broker_url != settings.REDIS_URL:
        # Another Redis than before (only when one process builds several apps, as tests do): drop
        # the connections and result backend Celery cached for the old one.
        import threading

        celery_app.conf.update(broker_url=settings.REDIS_URL, result_backend=settings.REDIS_URL)
        from kombu import pools

        celery_app._backend_cache = None
        celery_app._local = threading.local()
        # Celery's connection and producer pools live in kombu's process-wide registries, keyed by
        # broker URL: closing them without forgetting them would hand the closed pool back when a
        # later app returns to that URL ("Acquire on closed pool"). reset() closes and forgets all.
        pools.reset()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
    return celery_app


def _configure(sender: Celery) -> None:
    from app.config import Settings

    settings = _settings_override or Settings.from_env()
    if not settings.REDIS_URL:
        raise MissingRedisURL(
            "tasks: REDIS_URL is not set; Celery needs it as broker and result backend "
            "(e.g. REDIS_URL=redis://127.0.0.1:6379/0, or start everything with `tradeboard run`)"
        )
    sender.conf.update(
        broker_url=settings.REDIS_URL,
        result_backend=settings.REDIS_URL,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TASK_TIME_LIMIT,
        task_soft_time_limit=TASK_SOFT_TIME_LIMIT,
        timezone=settings.SCHEDULE_TIMEZONE,  # crontab entries (end of day at 16:30) are in this zone
        enable_utc=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        # a task whose worker died unacknowledged goes back to the queue after the visibility
        # timeout; every worker sweeps for such tasks every CELERY_RESTORE_SECONDS (kombu's default
        # sweep is ~100 s: 10 s x a throttle of 10)
        # The restore sweep holds a Redis mutex while it runs (milliseconds); a worker killed while
        # holding it keeps every other worker from restoring anything for kombu's default 300 s - the
        # likely cause of a fault-test sweep whose killed member was not redelivered within 120 s - so
        # here it lapses after UNACKED_MUTEX_SECONDS.
        broker_transport_options={"visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT_SECONDS,
                                  "unacked_restore_interval": settings.CELERY_RESTORE_SECONDS,
                                  "unacked_restore_throttle": 1,
                                  "unacked_mutex_expire": UNACKED_MUTEX_SECONDS},
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
        worker_send_task_events=False,
        beat_schedule=beat_schedule(settings),
    )


celery_app = TradeboardCelery("tradeboard", include=TASK_MODULES)
app = celery_app  # `celery -A tasks` finds either name


def _configure_data_access() -> None:
    """Bind the process's database engine and section cache, as create_app does for the web."""
    from app.config import Settings
    from data_access.cache import sections
    from data_access.db import configure_database_from

    settings = Settings.from_env()
    configure_database_from(settings)
    sections.configure_from(settings)


@signals.worker_init.connect
def _on_worker_init(**_kwargs) -> None:
    _configure_data_access()


@signals.worker_process_init.connect
def _on_worker_process_init(**_kwargs) -> None:
    # A forked pool child must not share the parent's connections: bind fresh ones.
    _configure_data_access()
