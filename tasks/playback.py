"""A live playback run: the engine's bar-by-bar ``stream`` on a worker, one compact event per bar
XADDed to the Redis stream ``tb:playback:<id>`` (see data_access/playback.py), the end marked, then
the stream set to expire. Acknowledged late with a time limit; a redelivered run starts its stream
over (the page reads by entry id, so it keeps going from where it was)."""

from __future__ import annotations

import logging

from tasks import celery_app

log = logging.getLogger(__name__)


def start_live(spec: dict) -> str:
    """Record and queue a live run; returns its id (the stream's name)."""
    from data_access import playback

    live_id = playback.create_live(spec)
    run_live.apply_async(args=[live_id, spec], task_id=f"playback-{live_id}")
    return live_id


@celery_app.task(name="tasks.playback.run_live", acks_late=True, time_limit=600, soft_time_limit=570)
def run_live(live_id: str, spec: dict) -> dict:
    from analytics import backtest as bt
    from data_access import playback
    from data_access.bars_import import load_bars
    from data_access.cache import sections
    from data_access.db import current_engine

    redis = sections.redis
    try:
        redis.delete(playback.stream_key(live_id))  # a redelivered run publishes from the start again
        frame = load_bars(current_engine(), spec["symbol"], spec.get("timeframe", "1d"), spec.get("start"),
                          spec.get("end"))
        bars = bt.Bars.from_frame(frame)
        events = bt.stream(bars, spec["kind"], spec.get("params") or {}, cash=float(spec.get("cash", 100_000)),
                           commission_bps=float(spec.get("commission_bps", 0)),
                           slippage_bps=float(spec.get("slippage_bps", 0)))
        sent = playback.publish(live_id, events, clock=playback.intraday(spec.get("timeframe", "1d")),
                                total=len(bars), redis=redis, bars_per_second=float(spec.get("bars_per_second", 0)))
    except Exception as exc:
        log.exception("live playback %s failed", live_id)
        playback.finish_live(live_id, "failed", error=f"{type(exc).__name__}: {exc}", redis=redis)
        return {"id": live_id, "status": "failed", "error": str(exc)}
    playback.finish_live(live_id, "done", redis=redis)
    return {"id": live_id, "status": "done", "bars": sent}
