"""``signal_days`` and ``signal_lag_days``: a strategy's signals of one UTC day (by receipt) counted
per status and rejection reason, and the signal-to-fill lags of its filled signals as a mergeable
sketch (analytics/lag_sketch.py: count, exact sum, buckets within 1 %).

Both are sums, so every write adds what its rows bring and takes away what the rows it replaced
had brought: ``apply_signal_changes`` with the new rows and the old ones, in the transaction that
writes the signals (data_access/ingest/batch.py), that stamps a first fill time on signals
(data_access/ingest/after_write.py) and that seeds the demo book. ``rebuild_signal_days`` counts
everything again from the signals (``tradeboard rebuild-aggregates``).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from analytics.lag_sketch import LagSketch, bucket_of, stored_pairs
from data_access.aggregates.days import KEYS_TABLE, Key, as_date, day_param, insert_rows, load_keys

FILLED = "FILLED"
COUNT_KEY = ["strategy_id", "day", "status", "reject_reason"]
LAG_KEY = ["strategy_id", "day", "bucket"]
NO_REASON = ""  # a reason is part of the key: no reason is stored as ''
REBUILD_CHUNK = 500_000


def _value(v: Any) -> str:
    return str(getattr(v, "value", v))


def _micros(values: Any) -> np.ndarray:
    """Times (datetimes, ISO text, datetime64) as epoch microseconds, -1 where there is none."""
    series = pd.Series(values)
    stamps = pd.to_datetime(series, format="ISO8601") if series.dtype == object else pd.to_datetime(series)
    us = stamps.to_numpy(dtype="datetime64[us]").astype(np.int64)
    return np.where(stamps.isna().to_numpy(), -1, us)


def _texts(values: Any) -> np.ndarray:
    """Statuses (strings or enum members) as strings, vectorised."""
    series = pd.Series(values, dtype=object)
    if len(series) and isinstance(series.iloc[0], enum.Enum):
        series = series.map(_value)
    return series.to_numpy(dtype=object)


def _us(values: Any) -> np.ndarray:
    array = np.asarray(values)
    return array.astype(np.int64) if array.dtype.kind == "i" else _micros(values)


def signal_frame(strategy_id: Any, received_at: Any, status: Any, reject_reason: Any, filled_at: Any) -> pd.DataFrame:
    """Signals in the form the rollups are computed from (times as epoch microseconds, -1 none)."""
    reasons = pd.Series(reject_reason, dtype=object)
    return pd.DataFrame({
        "strategy_id": np.asarray(strategy_id, dtype=np.int64), "received_us": _us(received_at),
        "status": _texts(status), "reject_reason": reasons.where(reasons.notna(), NO_REASON).to_numpy(dtype=object),
        "filled_us": _us(filled_at),
    })


SIGNAL_COLUMNS = ["strategy_id", "received_at", "status", "reject_reason", "filled_at"]


def signal_frame_of(rows: pd.DataFrame) -> pd.DataFrame:
    """``signal_frame`` of rows holding the signals table's columns (SIGNAL_COLUMNS)."""
    return signal_frame(*(rows[c] for c in SIGNAL_COLUMNS))


def _days(received_us: np.ndarray) -> np.ndarray:
    return received_us.astype("datetime64[us]").astype("datetime64[D]")


def _deltas(signals: pd.DataFrame, sign: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What ``signals`` bring (sign 1) or take away (-1): counts per (strategy, day, status, reason),
    and lag buckets per (strategy, day, bucket) with the lag and its count."""
    day = _days(signals["received_us"].to_numpy())
    counts = pd.DataFrame({"strategy_id": signals["strategy_id"].to_numpy(), "day": day,
                           "status": signals["status"].to_numpy(), "reject_reason": signals["reject_reason"].to_numpy(),
                           "signals": sign})
    filled = (signals["status"].to_numpy() == FILLED) & (signals["filled_us"].to_numpy() >= 0)
    lags = np.clip((signals["filled_us"].to_numpy()[filled] - signals["received_us"].to_numpy()[filled]) / 1e6,
                   0.0, None)
    lag_rows = pd.DataFrame({"strategy_id": signals["strategy_id"].to_numpy()[filled], "day": day[filled],
                             "bucket": bucket_of(lags), "fills": sign, "lag_sum": sign * lags})
    return counts, lag_rows


def apply_signal_changes(conn: Connection, new: pd.DataFrame, old: pd.DataFrame | None = None) -> None:
    """Add the signals ``new`` to their days and take the signals ``old`` (as they were before this
    write replaced them) away from theirs; both in ``signal_frame``'s form."""
    parts = [_deltas(new, 1)]
    if old is not None and len(old):
        parts.append(_deltas(old, -1))
    _add_counts(conn, _summed_counts([p[0] for p in parts]), negative=len(parts) > 1)
    _add_lags(conn, _summed_lags([p[1] for p in parts]))


def _summed_counts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True).groupby(COUNT_KEY, sort=True)["signals"].sum().reset_index()


def _summed_lags(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True).groupby(LAG_KEY, sort=True)[["fills", "lag_sum"]].sum().reset_index()


def _add_counts(conn: Connection, counts: pd.DataFrame, negative: bool) -> None:
    counts = counts[counts["signals"] != 0]
    if not len(counts):
        return
    rows = [(int(s), day_param(conn, pd.Timestamp(d).date()), st, r, int(n))
            for s, d, st, r, n in counts.itertuples(index=False)]
    insert_rows(conn, "signal_days", COUNT_KEY + ["signals"], rows,
                "ON CONFLICT (strategy_id, day, status, reject_reason) "
                "DO UPDATE SET signals = signal_days.signals + excluded.signals")
    if negative:
        conn.execute(text("DELETE FROM signal_days WHERE signals = 0"))


def _add_lags(conn: Connection, lags: pd.DataFrame) -> None:
    """Merge per-bucket deltas into the stored sketches of their (strategy, day): read, add, write back."""
    if not len(lags):
        return
    keys = sorted({(int(s), pd.Timestamp(d).date()) for s, d in
                   lags[["strategy_id", "day"]].drop_duplicates().itertuples(index=False)})
    stored = _stored_lags(conn, keys)  # leaves ``keys`` in KEYS_TABLE
    if len(stored):
        lags = _summed_lags([lags, stored])
        conn.exec_driver_sql(f"DELETE FROM signal_lag_days WHERE EXISTS (SELECT 1 FROM {KEYS_TABLE} k WHERE "
                             "k.strategy_id = signal_lag_days.strategy_id AND k.day = signal_lag_days.day)")
    insert_rows(conn, "signal_lag_days", ("strategy_id", "day", "fills", "lag_sum", "sketch"), _encoded(conn, lags))


def _stored_lags(conn: Connection, keys: list[Key]) -> pd.DataFrame:
    """The stored sketches of ``keys`` in long form (strategy_id, day, bucket, fills, lag_sum): the
    day's lag sum rides on its first bucket, so that summing gives it back."""
    load_keys(conn, keys)
    found = conn.exec_driver_sql(f"SELECT d.strategy_id, d.day, d.lag_sum, d.sketch FROM signal_lag_days d JOIN "
                                 f"{KEYS_TABLE} k ON k.strategy_id = d.strategy_id AND k.day = d.day").all()
    if not found:
        return pd.DataFrame()
    strategy, day, total, blobs = zip(*found)
    sizes = np.array([len(b) // 8 for b in blobs], dtype=np.int64)  # int32 pairs per sketch
    pairs = stored_pairs(blobs)
    sums = np.zeros(len(pairs))
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    sums[starts[sizes > 0]] = np.asarray(total, dtype=float)[sizes > 0]
    return pd.DataFrame({"strategy_id": np.repeat(np.asarray(strategy, dtype=np.int64), sizes),
                         "day": np.repeat(np.array([np.datetime64(as_date(d), "D") for d in day]), sizes),
                         "bucket": pairs[:, 0], "fills": pairs[:, 1], "lag_sum": sums})


def _encoded(conn: Connection, lags: pd.DataFrame) -> list[tuple]:
    """One row per (strategy, day) with fills left: its count, lag sum and sketch bytes."""
    if (lags["fills"] < 0).any():
        raise ValueError("signal lag rollup would hold a negative count: rebuild it (tradeboard rebuild-aggregates)")
    strategy, day = lags["strategy_id"].to_numpy(np.int64), lags["day"].to_numpy("datetime64[D]")
    bucket, fills, sums = lags["bucket"].to_numpy(np.int64), lags["fills"].to_numpy(np.int64), lags["lag_sum"].to_numpy()
    starts = np.flatnonzero(np.r_[True, (strategy[1:] != strategy[:-1]) | (day[1:] != day[:-1])])
    ends = np.r_[starts[1:], len(lags)]
    rows = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        keep = fills[a:b] > 0
        n = int(fills[a:b].sum())
        if not n:
            continue
        sketch = LagSketch(bucket[a:b][keep], fills[a:b][keep])
        rows.append((int(strategy[a]), day_param(conn, day[a].item()), n, max(float(sums[a:b].sum()), 0.0),
                     sketch.to_bytes()))
    return rows


def rebuild_signal_days(conn: Connection) -> int:
    """Count every signal again into ``signal_days`` and ``signal_lag_days``; returns the (strategy,
    day) pairs with signals. Reads the signals in chunks of REBUILD_CHUNK by id."""
    conn.exec_driver_sql("DELETE FROM signal_days")
    conn.exec_driver_sql("DELETE FROM signal_lag_days")
    counts, lags, after = [], [], -1
    while True:
        chunk = conn.execute(text("SELECT id, strategy_id, received_at, status, reject_reason, filled_at FROM signals "
                                  "WHERE id > :after ORDER BY id LIMIT :n"), {"after": after, "n": REBUILD_CHUNK}).all()
        if not chunk:
            break
        after = int(chunk[-1][0])
        _ids, strategy, received, status, reason, filled = zip(*chunk)
        c, lg = _deltas(signal_frame(strategy, received, status, reason, filled), 1)
        counts.append(_summed_counts([c]))  # each chunk summed as it comes: the chunks' rows are not kept
        lags.append(_summed_lags([lg]))
    if counts:  # into emptied tables: nothing stored to merge with
        _add_counts(conn, _summed_counts(counts), negative=False)
        _add_lags(conn, _summed_lags(lags))
    return int(conn.exec_driver_sql("SELECT count(*) FROM (SELECT DISTINCT strategy_id, day FROM signal_days) x").scalar())


def signal_counts(conn: Connection, strategy_id: int, first_day: dt.date | None, last_day: dt.date) -> list[tuple]:
    """(status, reason or None, count) of a strategy's signals received from ``first_day`` (None: the
    first there is) to ``last_day``, both included."""
    where, params = _range(conn, strategy_id, first_day, last_day)
    rows = conn.execute(text(f"SELECT status, reject_reason, SUM(signals) FROM signal_days WHERE {where} "
                             "GROUP BY status, reject_reason"), params).all()
    return [(status, reason or None, int(n)) for status, reason, n in rows]


def lag_sketch(conn: Connection, strategy_id: int, first_day: dt.date | None, last_day: dt.date) -> LagSketch:
    """The merged lag sketch of a strategy's filled signals received in the range."""
    where, params = _range(conn, strategy_id, first_day, last_day)
    rows = conn.execute(text(f"SELECT lag_sum, sketch FROM signal_lag_days WHERE {where}"), params).all()
    if not rows:
        return LagSketch()
    pairs = stored_pairs(blob for _t, blob in rows)
    whole = LagSketch(pairs[:, 0], pairs[:, 1]).merged()
    whole.total = float(sum(t for t, _b in rows))
    return whole


def _range(conn: Connection, strategy_id: int, first_day: dt.date | None, last_day: dt.date) -> tuple[str, dict]:
    where, params = "strategy_id = :s AND day <= :last", {"s": strategy_id, "last": day_param(conn, last_day)}
    if first_day is not None:
        where += " AND day >= :first"
        params["first"] = day_param(conn, first_day)
    return where, params
