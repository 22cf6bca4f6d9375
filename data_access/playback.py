"""Backtest playback data: a stored run in compact chunks (replay) and live runs as Redis streams.

Replay: ``run_events(run_id, start, count)`` returns bars ``start .. start+count`` of the run's window
as parallel lists (``t`` short time text, ``o h l c v`` rounded, ``eq`` equity after each bar) and the
run's fills on those bars as ``ev`` rows ``[bar, code, price, size, pnl]`` where code is ``EL``/``ES``
(long/short entry) or ``XL``/``XS`` (exit of a long/short; pnl only on exits), exits before entries on
the same bar (the engine's order). Cached in the long tier under the "backtests" and "bars" families.

Live: ``create_live`` records a live run's request under ``tb:playback:<id>:meta`` (a hash) and the
Celery task (tasks/playback.py) ``XADD``s one compact event per bar to ``tb:playback:<id>`` (trimmed
to about ``STREAM_MAXLEN`` entries), marks the end in the meta hash, then sets an expiry on both
keys. ``read_live(id, after, max)`` is the page's poll: one round trip (pipelined HGETALL + XRANGE
from the exclusive last-seen id); the events stay the JSON text the worker wrote and are passed on
without being parsed.

A live event: ``{"i": bar, "t", "o", "h", "l", "c", "v", "e": equity, "n": [closed trades, wins,
losses], "s": [[code, price, size(, pnl)], ...]}`` (``s`` only when the bar has fills).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from data_access.cache import cached_section, sections
from data_access.db import current_engine
from data_access.models import BacktestEquityCurve, BacktestRun, BacktestTrade, as_row_id, Bar, RunStatus

FAMILIES = ("backtests", "bars")
DEFAULT_CHUNK = 5_000
MAX_CHUNK = 10_000
MAX_START = 2 ** 31 - 1  # beyond any run's bars; larger numbers would overflow the driver and the JSON encoder
PRICE_DIGITS = 4
EQUITY_DIGITS = 2

STREAM_PREFIX = "tb:playback:"
STREAM_MAXLEN = 20_000  # approximate (XADD MAXLEN ~): a reader that falls further behind skips ahead
STREAM_TTL_SECONDS = 15 * 60  # after the run ends (or fails)
PENDING_TTL_SECONDS = 60 * 60  # a queued run's meta, until a worker picks it up
MAX_POLL = 2_000
_ENTRY_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
_LIVE_ID = re.compile(r"^[0-9a-f]{8,32}$")

ENTRY = {"long": "EL", "short": "ES"}
EXIT = {"long": "XL", "short": "XS"}


class PlaybackNotFound(LookupError):
    """No such run (or live stream)."""


class InvalidChunk(ValueError):
    pass


# --------------------------------------------------------------------------- formatting


def intraday(timeframe: str) -> bool:
    return not (timeframe or "1d").strip().lower().endswith(("d", "w"))


def short_time(value: dt.datetime, with_clock: bool) -> str:
    """'2024-01-05' for daily bars, '2024-01-05 09:31' (or with seconds when they are not 0) intraday."""
    if not with_clock:
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")


def price(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, PRICE_DIGITS) if math.isfinite(value) else None


def money(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, EQUITY_DIGITS) if math.isfinite(value) else None


def volume(value: Any) -> float | int:
    value = float(value or 0.0)
    return int(value) if value.is_integer() else round(value, 2)


def _naive(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------- replay


def _run_row(session_or_conn, run_id: int) -> BacktestRun:
    key = as_row_id(run_id)
    run = None if key is None else session_or_conn.get(BacktestRun, key)
    if run is None:
        raise PlaybackNotFound(f"no backtest run {run_id}")
    return run


@cached_section(FAMILIES, "long")
def run_header(run_id: int) -> dict[str, Any]:
    """The run's summary and ``total`` (bars in its window). PlaybackNotFound if there is none."""
    from sqlalchemy.orm import Session

    with Session(current_engine()) as session:
        run = _run_row(session, run_id)
        total = session.scalar(select(func.count()).select_from(Bar).where(
            Bar.symbol == run.symbol, Bar.timeframe == run.timeframe, Bar.time >= run.start, Bar.time <= run.end))
        metrics = run.metrics or {}
        return {
            "id": run.id, "kind": run.strategy_kind, "params": dict(run.params or {}), "config": run.config_key,
            "symbol": run.symbol, "timeframe": run.timeframe, "start": run.start.strftime("%Y-%m-%d %H:%M"),
            "end": run.end.strftime("%Y-%m-%d %H:%M"), "cash": float(run.cash),
            "status": getattr(run.status, "value", run.status), "total": int(total or 0),
            "trades": run.number_of_trades, "total_return_pct": money(run.total_return_pct),
            "final_equity": money(metrics.get("final_equity")),
        }


@cached_section(FAMILIES, "long")
def run_events(run_id: int, start: int = 0, count: int = DEFAULT_CHUNK) -> dict[str, Any]:
    """Bars ``start .. start+count`` of the run's window with their equity and fills (module doc).
    PlaybackNotFound for an unknown run; InvalidChunk for a start outside 0..MAX_START or a count
    outside 1..MAX_CHUNK. A start past the last bar is an empty chunk."""
    from sqlalchemy.orm import Session

    run_id, start, count = int(run_id), int(start), int(count)
    if not 0 <= start <= MAX_START or not 1 <= count <= MAX_CHUNK:
        raise InvalidChunk(f"start must be between 0 and {MAX_START} and count between 1 and {MAX_CHUNK}, "
                           f"got start={start} count={count}")
    header = run_header(run_id)
    with Session(current_engine()) as session:
        run = _run_row(session, run_id)
        rows = session.execute(
            select(Bar.time, Bar.open, Bar.high, Bar.low, Bar.close, Bar.volume)
            .where(Bar.symbol == run.symbol, Bar.timeframe == run.timeframe, Bar.time >= run.start, Bar.time <= run.end)
            .order_by(Bar.time).offset(start).limit(count)).all()
        trades = []
        if rows:
            first, last = rows[0][0], rows[-1][0]
            trades = session.execute(
                select(BacktestTrade.side, BacktestTrade.size, BacktestTrade.entry_time, BacktestTrade.entry_price,
                       BacktestTrade.exit_time, BacktestTrade.exit_price, BacktestTrade.pnl)
                .where(BacktestTrade.run_id == run_id,
                       ((BacktestTrade.entry_time >= first) & (BacktestTrade.entry_time <= last))
                       | ((BacktestTrade.exit_time >= first) & (BacktestTrade.exit_time <= last)))
                .order_by(BacktestTrade.entry_time, BacktestTrade.id)).all()
        curve = session.get(BacktestEquityCurve, run_id)
        curve_times = list(curve.times) if curve is not None else []
        curve_equity = list(curve.equity) if curve is not None else []
    clock = intraday(run.timeframe)
    times = [r[0] for r in rows]
    index = {t: start + k for k, t in enumerate(times)}
    events: list[list] = []
    for side, size, entry_time, entry_price, exit_time, exit_price, pnl in trades:
        if (bar := index.get(entry_time)) is not None:
            events.append([bar, ENTRY.get(side, "EL"), price(entry_price), int(size), None])
        if (bar := index.get(exit_time)) is not None:
            events.append([bar, EXIT.get(side, "XL"), price(exit_price), int(size), money(pnl)])
    events.sort(key=lambda e: (e[0], 0 if e[1][0] == "X" else 1))
    return {
        "run_id": run_id, "start": start, "count": len(rows), "total": header["total"],
        "t": [short_time(t, clock) for t in times],
        "o": [price(r[1]) for r in rows], "h": [price(r[2]) for r in rows], "l": [price(r[3]) for r in rows],
        "c": [price(r[4]) for r in rows], "v": [volume(r[5]) for r in rows],
        "eq": _equity_for(times, curve_times, curve_equity),
        "ev": events,
    }


def _iso_z(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _equity_for(times: list[dt.datetime], curve_times: list[str], curve_equity: list) -> list[float | None]:
    """The stored equity at each bar time: the curve has one point per bar of the run, so the chunk is
    a slice (checked); a curve that does not line up is matched time by time."""
    if not times or not curve_times:
        return [None] * len(times)
    wanted = [_iso_z(t) for t in times]
    k = bisect.bisect_left(curve_times, wanted[0])
    if curve_times[k:k + len(wanted)] == wanted:
        return [money(v) for v in curve_equity[k:k + len(wanted)]]
    by_time = dict(zip(curve_times, curve_equity))
    return [money(by_time.get(t)) for t in wanted]


@cached_section("backtests", "long")
def recent_runs(limit: int = 300) -> list[dict[str, Any]]:
    """The latest completed runs (for the page's picker): id, label."""
    with current_engine().connect() as connection:
        rows = connection.execute(
            select(BacktestRun.id, BacktestRun.strategy_kind, BacktestRun.config_key, BacktestRun.symbol,
                   BacktestRun.start, BacktestRun.end, BacktestRun.total_return_pct)
            .where(BacktestRun.status == RunStatus.COMPLETED)
            .order_by(BacktestRun.id.desc()).limit(int(limit))).all()
    return [{"id": r[0], "label": run_label(r[0], r[3], r[2] or r[1], r[4], r[5], r[6])} for r in rows]


def run_label(run_id, symbol, config, start, end, total_return_pct) -> str:
    ret = "" if total_return_pct is None else f" · {total_return_pct:+.1f} %"
    return f"#{run_id} {symbol} · {config} · {start:%Y-%m-%d}..{end:%Y-%m-%d}{ret}"


# --------------------------------------------------------------------------- live

MAX_CASH = 1e12


def parse_live_request(body) -> dict:
    """A validated live-run spec from the request body, or ValueError naming the problem and the
    valid choices (kinds and parameters from the engine, symbols with stored bars)."""
    from analytics import backtest as bt
    from data_access.bars_import import stored_series

    if not isinstance(body, dict):
        raise ValueError("send a JSON object: {symbol, strategy, params, cash}")
    kind = body.get("strategy") or body.get("kind")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("params must be an object of parameter: value")
    checked = bt.validate_params(kind, params)  # UnknownStrategy / InvalidParameters list the valid choices
    timeframe = str(body.get("timeframe") or "1d")
    series = {(s["symbol"], s["timeframe"]) for s in stored_series(current_engine())}
    symbol = str(body.get("symbol") or "").strip().upper()
    if (symbol, timeframe) not in series:
        valid = sorted(s for s, tf in series if tf == timeframe)
        raise ValueError(f"no stored {timeframe} bars for symbol {symbol!r}; valid symbols: {', '.join(valid) or 'none'}")
    try:
        cash = float(body.get("cash", 100_000))
    except (TypeError, ValueError):
        raise ValueError(f"cash must be a number, got {body.get('cash')!r}") from None
    if not (math.isfinite(cash) and 0 < cash <= MAX_CASH):
        raise ValueError(f"cash must be positive and at most {MAX_CASH:g}, got {body.get('cash')!r}")
    spec = {"symbol": symbol, "timeframe": timeframe, "kind": kind, "params": checked, "cash": cash}
    for name in ("start", "end"):
        if body.get(name):
            spec[name] = str(body[name])[:32]
    try:
        pace = float(body.get("bars_per_second") or 0)
    except (TypeError, ValueError):
        raise ValueError("bars_per_second must be a number (0: as fast as the worker computes)") from None
    if pace < 0 or not math.isfinite(pace):
        raise ValueError("bars_per_second must be >= 0")
    spec["bars_per_second"] = pace
    return spec




def stream_key(live_id: str) -> str:
    return f"{STREAM_PREFIX}{live_id}"


def meta_key(live_id: str) -> str:
    return f"{STREAM_PREFIX}{live_id}:meta"


def valid_live_id(live_id: str) -> bool:
    return bool(_LIVE_ID.match(live_id or ""))


def create_live(spec: dict[str, Any], redis=None) -> str:
    """Record a queued live run (``spec``: symbol, timeframe, kind, params, cash, ...) and return its id."""
    client = redis or sections.redis
    live_id = uuid.uuid4().hex[:16]
    mapping = {"status": "queued", "created": f"{time.time():.3f}", "spec": json.dumps(spec, separators=(",", ":")),
               "symbol": spec["symbol"], "kind": spec["kind"], "total": "0"}
    pipe = client.pipeline()
    pipe.hset(meta_key(live_id), mapping=mapping)
    pipe.expire(meta_key(live_id), PENDING_TTL_SECONDS)
    pipe.execute()
    return live_id


def live_event(event: dict[str, Any], clock: bool) -> str:
    """One engine ``stream`` event as the compact JSON text published per bar."""
    stats = event["stats"]
    out: dict[str, Any] = {
        "i": event["bar"], "t": short_time(dt.datetime.fromisoformat(event["time"].removesuffix("Z")), clock),
        "o": price(event["open"]), "h": price(event["high"]), "l": price(event["low"]), "c": price(event["close"]),
        "v": volume(event["volume"]), "e": money(stats["equity"]), "n": [stats["trades"], stats["wins"], stats["losses"]],
    }
    if event["signals"]:
        out["s"] = [[(ENTRY if s["type"] == "entry" else EXIT)[s["side"]], price(s["price"]), int(s["size"])]
                    + ([money(s["pnl"])] if s["type"] == "exit" else []) for s in event["signals"]]
    return json.dumps(out, separators=(",", ":"))


def publish(live_id: str, events: Iterable[dict[str, Any]], *, clock: bool, total: int, redis=None,
            batch: int = 100, bars_per_second: float = 0.0) -> int:
    """XADD each event (pipelined in batches; paced to ``bars_per_second`` when > 0); returns the count."""
    client = redis or sections.redis
    key = stream_key(live_id)
    client.hset(meta_key(live_id), mapping={"status": "running", "total": str(total), "started": f"{time.time():.3f}"})
    client.expire(meta_key(live_id), PENDING_TTL_SECONDS)
    pipe = client.pipeline(transaction=False)
    began = time.monotonic()
    sent = 0
    step = batch if bars_per_second <= 0 else max(1, min(batch, int(bars_per_second // 10) or 1))
    for event in events:
        pipe.xadd(key, {"d": live_event(event, clock)}, maxlen=STREAM_MAXLEN, approximate=True)
        sent += 1
        if sent % step == 0:
            pipe.execute()
            if bars_per_second > 0:
                ahead = sent / bars_per_second - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
    pipe.execute()
    return sent


def finish_live(live_id: str, status: str, *, error: str | None = None, redis=None,
                ttl: int = STREAM_TTL_SECONDS) -> None:
    """Mark the end (done | failed) and let the stream and its meta expire ``ttl`` seconds later."""
    client = redis or sections.redis
    mapping = {"status": status, "finished": f"{time.time():.3f}"}
    if error:
        mapping["error"] = error[:500]
    pipe = client.pipeline()
    pipe.hset(meta_key(live_id), mapping=mapping)
    pipe.expire(meta_key(live_id), ttl)
    pipe.expire(stream_key(live_id), ttl)
    pipe.execute()


def read_live(live_id: str, after: str = "0", max_events: int = 500, redis=None) -> bytes:
    """The poll's JSON body: ``{"id", "status", "total", "error", "last_id", "count", "events": [...]}``
    with the events after ``after`` (an entry id; "0" for the start). PlaybackNotFound for an
    unknown or expired id; ValueError for a malformed ``after``."""
    client = redis or sections.redis
    if not valid_live_id(live_id):
        raise PlaybackNotFound(f"no live run {live_id!r}")
    after = (after or "0").strip()
    if not _ENTRY_ID.match(after):
        raise ValueError(f"after must be a stream entry id such as 1700000000000-0 (or 0), got {after!r}")
    max_events = max(1, min(int(max_events), MAX_POLL))
    pipe = client.pipeline(transaction=False)
    pipe.hmget(meta_key(live_id), "status", "total", "error")
    pipe.xrange(stream_key(live_id), min="-" if after == "0" else f"({after}", max="+", count=max_events)
    (status, total, error), entries = pipe.execute()
    if status is None:
        raise PlaybackNotFound(f"no live run {live_id!r} (unknown, or expired after its run)")
    status = status.decode()
    last_id = entries[-1][0].decode() if entries else after
    done = status in ("done", "failed")
    if done and entries:  # the end is reached only when nothing is left after these
        done = len(entries) < max_events
    head = json.dumps({"id": live_id, "status": status, "total": int(total or 0),
                       "error": error.decode() if error else None, "last_id": last_id, "count": len(entries),
                       "finished": done}, separators=(",", ":"))
    return head[:-1].encode() + b',"events":[' + b",".join(fields[b"d"] for _id, fields in entries) + b"]}"
