"""Every task run recorded (start, duration, outcome, error) through Celery's signals, into
``data_access.task_runs`` - so /ops and /metrics show what the workers did."""

from __future__ import annotations

import time

from celery import signals

from data_access import task_runs

# counted, but kept out of the recent-runs list: the beat's pulse, and the stale refreshes (several a
# second under load, they would push every other task off the list)
QUIET = {"tasks.heartbeat.beat_pulse", "tasks.cache.refresh_stale_sections"}
_started: dict[str, float] = {}
_errors: dict[str, str] = {}
_OUTCOMES = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry"}


@signals.task_prerun.connect
def _on_prerun(task_id=None, task=None, **_kwargs) -> None:
    _started[task_id] = time.time()
    task_runs.record_start(task.name, task_id, _started[task_id])


@signals.task_failure.connect
def _on_failure(task_id=None, exception=None, **_kwargs) -> None:
    _errors[task_id] = f"{type(exception).__name__}: {exception}"


@signals.task_retry.connect
def _on_retry(request=None, reason=None, **_kwargs) -> None:
    if request is not None:
        _errors[request.id] = str(reason)


@signals.task_postrun.connect
def _on_postrun(task_id=None, task=None, state=None, **_kwargs) -> None:
    outcome = _OUTCOMES.get(state, "failure")
    task_runs.record_end(task.name, task_id, outcome, _started.pop(task_id, None), _errors.pop(task_id, None),
                         recent=task.name not in QUIET)
