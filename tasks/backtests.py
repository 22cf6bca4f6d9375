"""Backtests as Celery work: a request becomes a sweep whose members (configuration x symbol) run
as a chord - a group fanned out over every worker, then ``finish_sweep`` once all are done.

A member retries (1 s, 2 s) on errors it might not hit again (the database busy, a lost
connection); after the last retry - or at once for an error in the request itself - it records a
FAILED run with the error and returns normally, so the chord always finishes and the sweep reports
the failure instead of dropping it. Members are acknowledged late and stored once per
(sweep, configuration, symbol): a member redelivered after a worker died does not run twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from amqp.exceptions import ChannelError
from celery import chord
from sqlalchemy.exc import IntegrityError

from tasks import celery_app
from tasks.dashboards import invalidate_strategy_cache

log = logging.getLogger(__name__)

MEMBER_RETRIES = 2


def start_sweep(spec: dict) -> tuple[str, int]:
    """Record the sweep and queue its members; returns (task id, sweep id)."""
    from data_access import sweeps

    task_id = uuid.uuid4().hex
    sweep_id = sweeps.create_sweep(spec, task_id)
    header = [run_member.s(sweep_id, params, symbol) for params, symbol in sweeps.members(spec)]
    chord(header)(finish_sweep.si(sweep_id).set(task_id=task_id))
    return task_id, sweep_id


@celery_app.task(bind=True, name="tasks.backtests.run_member", max_retries=MEMBER_RETRIES, time_limit=600,
                 soft_time_limit=540)
def run_member(self, sweep_id: int, params: dict, symbol: str) -> dict:
    def retry_while_attempts_left(exc: Exception) -> None:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=2 ** self.request.retries) from exc

    return execute_member(sweep_id, params, symbol, on_transient=retry_while_attempts_left)


def execute_member(sweep_id: int, params: dict, symbol: str, on_transient=None) -> dict:
    """Run and store one member (once: a stored member is not run again; a cancelled sweep's are
    skipped). A request error is recorded as a FAILED run at once; any other error is offered to
    ``on_transient`` (which may raise to retry) and then recorded - except one reading the sweep
    itself, before the run, which is offered to ``on_transient`` and then raised."""
    from analytics import backtest as bt
    from analytics.optimization import in_and_out_of_sample
    from data_access import sweeps
    from data_access.backtest_store import config_key, store_failed_run, store_run
    from data_access.bars_import import load_bars
    from data_access.db import current_engine

    try:
        spec = sweeps.sweep_spec(sweep_id)
        kind, key = spec["strategy"], config_key(spec["strategy"], params)
        existing = sweeps.member_run_id(sweep_id, key, symbol)
        if existing is not None:  # delivered again after it was stored
            return {"run_id": existing, "repeated": True}
        if sweeps.is_cancelled(sweep_id):
            return {"skipped": "the sweep was cancelled"}
        sweeps.mark_running(sweep_id)
    except sweeps.SweepNotFound:
        raise
    except Exception as exc:  # noqa: BLE001 - the database failing before the run: retry; nothing to record it in
        if on_transient is not None:
            on_transient(exc)
        raise
    try:
        frame = load_bars(current_engine(), symbol, spec["timeframe"], spec["start"], spec["end"])
        if len(frame) < 4:
            raise bt.InvalidBars(f"{symbol}: {len(frame)} stored {spec['timeframe']} bars in the window; need at least 4")
        result = bt.run(frame, kind, params, cash=spec["cash"], commission_bps=spec["commission_bps"],
                        slippage_bps=spec["slippage_bps"])
        split = in_and_out_of_sample(result.equity, [str(t)[:19] for t in result.bars.time])
        run_id = store_run(current_engine(), result, symbol=symbol, timeframe=spec["timeframe"], sweep_id=sweep_id,
                           extra_metrics={k: v for k, v in split.items() if k != "split_bar"})
        return {"run_id": run_id}
    except IntegrityError:  # stored meanwhile by another delivery of this member
        return {"run_id": sweeps.member_run_id(sweep_id, key, symbol), "repeated": True}
    except bt.BacktestError as exc:  # the request cannot work for this member: no retry
        error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - anything else may be transient: retry, then record
        if on_transient is not None:
            on_transient(exc)
        error = f"{type(exc).__name__}: {exc} (after {MEMBER_RETRIES} retries)"
    log.warning("sweep %s member %s %s failed: %s", sweep_id, key, symbol, error)
    unknown = dt.datetime(1970, 1, 1)  # a failed run's window is the request's, when it gave one
    try:
        run_id = store_failed_run(
            current_engine(), kind=kind, params=params, symbol=symbol, timeframe=spec["timeframe"],
            start=dt.datetime.fromisoformat(spec["start"]) if spec["start"] else unknown,
            end=dt.datetime.fromisoformat(spec["end"]) if spec["end"] else unknown,
            cash=spec["cash"], error=error, sweep_id=sweep_id)
    except IntegrityError:
        run_id = sweeps.member_run_id(sweep_id, key, symbol)
    return {"run_id": run_id, "error": error}


def run_sweep_here(spec: dict, report=None) -> dict:
    """Run a whole sweep in this process, member after member (a Dash background callback on a
    worker does this, reporting ``report(progress)`` after each); returns the final progress."""
    from data_access import sweeps

    task_id = uuid.uuid4().hex
    sweep_id = sweeps.create_sweep(spec, task_id)
    if report is not None:
        report(sweeps.progress(task_id))
    try:
        for params, symbol in sweeps.members(spec):
            if sweeps.is_cancelled(sweep_id):
                break
            execute_member(sweep_id, params, symbol)
            if report is not None:
                report(sweeps.progress(task_id))
    finally:
        sweeps.finish(sweep_id)
        invalidate_strategy_cache()
    return sweeps.progress(task_id)


@celery_app.task(name="tasks.backtests.recover_sweeps", time_limit=300, soft_time_limit=240)
def recover_sweeps() -> dict:
    """Beat's watchdog over sweeps that would never finish by themselves. kombu's Redis transport
    moves a message to its unacknowledged set only after the worker has popped it, so a worker
    killed in between loses that member (celery/kombu#1836), and the chord waits for it forever.
    Once the default queue is empty and nothing has been stored for a sweep for longer than a dead
    worker's task takes to come back (visibility timeout + restore interval), its missing members
    are queued again in a new chord; a member stored meanwhile is not run twice. A cancelled sweep
    is finished as it stands."""
    from data_access import sweeps

    options = celery_app.conf.broker_transport_options
    with celery_app.connection_for_read() as connection:
        try:
            waiting = connection.default_channel.queue_declare(celery_app.conf.task_default_queue,
                                                               passive=True).message_count
        except ChannelError:  # the Redis transport: a queue never sent to or drained to empty does not exist
            waiting = 0
    if waiting:
        return {"queued_messages": waiting, "recovered": []}
    idle = float(options.get("visibility_timeout", 3600)) + float(options.get("unacked_restore_interval", 10))
    recovered = []
    for sweep_id, cancelled in sweeps.stalled(idle):
        missing = [] if cancelled else sweeps.missing_members(sweep_id)
        if missing:
            chord([run_member.s(sweep_id, params, symbol) for params, symbol in missing])(finish_sweep.si(sweep_id))
        else:
            finish_sweep.delay(sweep_id)
        log.warning("sweep %s stalled with %d member(s) missing: queued again", sweep_id, len(missing))
        recovered.append({"sweep_id": sweep_id, "requeued_members": len(missing)})
    return {"queued_messages": 0, "recovered": recovered}


@celery_app.task(name="tasks.backtests.finish_sweep", time_limit=300, soft_time_limit=240, max_retries=3,
                 autoretry_for=(Exception,), retry_backoff=1, retry_backoff_max=8, retry_jitter=False)
def finish_sweep(sweep_id: int) -> dict:
    from data_access import sweeps

    outcome = sweeps.finish(sweep_id)
    invalidate_strategy_cache()  # in this process: the strategy dashboard's keys miss on their next read
    return outcome
