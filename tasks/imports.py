"""The browser import's jobs on a worker: check a whole file, commit it, undo it
(data_access/imports). The page queues them and follows the import's status and progress."""

from __future__ import annotations

from tasks import celery_app

# A 2,000,000-row file takes minutes on a busy machine: the default 15 minutes is the ceiling.
IMPORT_TIME_LIMIT = 15 * 60
# Acknowledged when done: a worker killed mid-commit rolls its transaction back and the task is
# delivered again; a job whose import is already finished does nothing.
RUN_AGAIN = {"acks_late": True, "reject_on_worker_lost": True}


def _redis():
    from data_access.imports.progress import shared_redis

    return shared_redis()


@celery_app.task(name="tasks.imports.check_import", time_limit=IMPORT_TIME_LIMIT, soft_time_limit=IMPORT_TIME_LIMIT - 30,
                 **RUN_AGAIN)
def check_import(import_id: int) -> dict:
    from data_access.db import current_engine
    from data_access.imports import jobs

    return jobs.check(current_engine(), import_id, _redis())


@celery_app.task(name="tasks.imports.commit_import", time_limit=IMPORT_TIME_LIMIT, soft_time_limit=IMPORT_TIME_LIMIT - 30,
                 **RUN_AGAIN)
def commit_import(import_id: int) -> dict:
    from data_access.cache import sections
    from data_access.db import current_engine
    from data_access.imports import jobs

    return jobs.commit(current_engine(), import_id, _redis(), bump=sections.bump)


@celery_app.task(name="tasks.imports.undo_import", time_limit=IMPORT_TIME_LIMIT, soft_time_limit=IMPORT_TIME_LIMIT - 30,
                 **RUN_AGAIN)
def undo_import(import_id: int) -> dict:
    from data_access.cache import sections
    from data_access.db import current_engine
    from data_access.imports import undo

    try:
        return undo.undo(current_engine(), import_id, bump=sections.bump)
    except (undo.UndoRefused, undo.ImportStateError) as exc:
        return {"status": "refused", "message": str(exc)}


@celery_app.task(name="tasks.imports.expire_imports")
def expire_imports() -> int:
    """Files uploaded over jobs.KEEP_UNCOMMITTED_HOURS ago and never committed: dropped (beat, hourly)."""
    from data_access.db import current_engine
    from data_access.imports import jobs

    with current_engine().begin() as conn:
        return jobs.expire_uncommitted(conn)
