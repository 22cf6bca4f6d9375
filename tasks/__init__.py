"""The Celery app: ``celery -A tasks worker`` and ``celery -A tasks beat`` from the repository root.

Broker and result backend are REDIS_URL (read from the environment through `Settings.from_env()`
when Celery first needs its configuration, so ``import tasks`` never fails; a worker, beat or
``.delay()`` without REDIS_URL stops with a clear error).

Add a task module to `TASK_MODULES`; add periodic work to `BEAT_SCHEDULE`.
"""

from __future__ import annotations

import logging

from celery import Celery, signals

log = logging.getLogger(__name__)

# Modules whose tasks (and signal handlers) the worker loads.
TASK_MODULES = [
    "tasks.heartbeat",
    "tasks.dashboards",
]

# Periodic tasks for `celery -A tasks beat`: {"name": {"task": "...", "schedule": seconds, ...}}.
BEAT_SCHEDULE: dict[str, dict] = {
    # The client dashboard's short tier is 30 s; every 5 minutes keeps the medium/long sections warm.
    "refresh-client-dashboard": {"task": "tasks.dashboards.refresh_client_dashboard", "schedule": 300.0},
}

TASK_TIME_LIMIT = 15 * 60  # hard: the child is killed
TASK_SOFT_TIME_LIMIT = 14 * 60  # soft: SoftTimeLimitExceeded is raised in the task

class MissingRedisURL(RuntimeError):
    pass


class TradeboardCelery(Celery):
    def on_configure(self) -> None:  # a method, not the signal: its errors must stop the program
        _configure(self)


def _configure(sender: Celery) -> None:
    from app.config import Settings

    settings = Settings.from_env()
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
        timezone="UTC",
        enable_utc=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": TASK_TIME_LIMIT + 60},
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
        worker_send_task_events=False,
        beat_schedule=BEAT_SCHEDULE,
    )


celery_app = TradeboardCelery("tradeboard", include=TASK_MODULES)
app = celery_app  # `celery -A tasks` finds either name


def _configure_data_access() -> None:
    """Bind the process's database engine and section cache, as create_app does for the web."""
    from app.config import Settings
    from data_access.cache import sections
    from data_access.db import configure_database

    settings = Settings.from_env()
    configure_database(settings.DATABASE_URL)
    sections.configure_from(settings)


@signals.worker_init.connect
def _on_worker_init(**_kwargs) -> None:
    _configure_data_access()


@signals.worker_process_init.connect
def _on_worker_process_init(**_kwargs) -> None:
    # A forked pool child must not share the parent's connections: bind fresh ones.
    _configure_data_access()
