"""OHLCV bars in from CSV or Parquet files, and out again for backtests.

Two steps, so nothing is half-imported:

- ``read_bars(path)`` reads and validates a whole file and returns a clean frame (``time`` naive
  UTC, ``open``/``high``/``low``/``close``/``volume`` floats, sorted by time) or raises
  ``BarsImportError`` listing every bad row as ``(line, message)``: CSV lines count the header as
  line 1, Parquet rows are their 0-based row index. ``validate_frame`` does the same for a frame
  already in memory (an upload, an API body).
- ``import_bars(engine_or_url, frame, symbol, timeframe)`` upserts the rows on the
  ``(symbol, timeframe, time)`` unique constraint (``INSERT .. ON CONFLICT DO UPDATE`` on SQLite
  and PostgreSQL), in chunks, in one transaction: importing the same bars twice changes nothing.

The caller bumps the ``bars`` cache family afterwards (``sections.bump("bars")``).

``load_bars`` and ``stored_series`` read them back (for ``tradeboard backtest`` and the API).
"""

from __future__ import annotations

import datetime as dt
import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, inspect, select

from data_access.db import make_engine
from data_access.models import Bar

__all__ = [
    "MAX_LISTED",
    "TIMEFRAMES",
    "TIME_COLUMNS",
    "BarsImportError",
    "ImportResult",
    "check_symbol",
    "check_timeframe",
    "import_bars",
    "load_bars",
    "read_bars",
    "stored_series",
    "validate_frame",
]

TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")
TIME_COLUMNS = ("timestamp", "date", "datetime", "time")
PRICE_COLUMNS = ("open", "high", "low", "close")
MAX_LISTED = 20  # bad rows shown in an error message; the rest are counted
CHUNK_ROWS = 1_000  # rows per INSERT (7 parameters each: well under SQLite's 32,766 limit)
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


class BarsImportError(ValueError):
    """A file (or frame) that cannot be imported. ``problems`` lists ``(line, message)`` per bad
    row; ``line`` is None for problems with the whole file (a missing column, say)."""

    def __init__(self, message: str, problems: Sequence[tuple[int | None, str]] = (), line_label: str = "line"):
        self.summary = message
        self.problems = list(problems)
        self.line_label = line_label
        super().__init__(self.render())

    def render(self, limit: int = MAX_LISTED) -> str:
        lines = [self.summary]
        for line, message in self.problems[:limit]:
            lines.append(f"  {message}" if line is None else f"  {self.line_label} {line}: {message}")
        if len(self.problems) > limit:
            lines.append(f"  and {len(self.problems) - limit} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportResult:
    symbol: str
    timeframe: str
    rows: int
    inserted: int
    updated: int  # existing bars whose values changed
    unchanged: int  # existing bars given again with the same values
    first: dt.datetime | None
    last: dt.datetime | None
    elapsed_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "timeframe": self.timeframe, "rows": self.rows, "inserted": self.inserted,
            "updated": self.updated, "unchanged": self.unchanged,
            "first": None if self.first is None else self.first.isoformat(),
            "last": None if self.last is None else self.last.isoformat(),
            "elapsed_seconds": self.elapsed_seconds,
        }


# --------------------------------------------------------------------------- arguments


def check_symbol(symbol: str) -> str:
    """The symbol upper-cased and stripped; ValueError when empty or too long for the column."""
    text = (symbol or "").strip().upper()
    if not text:
        raise ValueError("the symbol is empty")
    if len(text) > 32 or any(c.isspace() for c in text):
        raise ValueError(f"invalid symbol {symbol!r}: at most 32 characters, no spaces")
    return text


def check_timeframe(timeframe: str) -> str:
    text = (timeframe or "").strip().lower()
    if text not in TIMEFRAMES:
        raise ValueError(f"invalid timeframe {timeframe!r}; valid timeframes: {', '.join(TIMEFRAMES)}")
    return text


# --------------------------------------------------------------------------- reading and validation


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"PAR1"
    except OSError:
        return False


def read_bars(path: str | Path) -> pd.DataFrame:
    """The bars of a CSV or Parquet file, validated (see the module doc); raises BarsImportError."""
    path = Path(path)
    if not path.is_file():
        raise BarsImportError(f"{path}: no such file")
    if _is_parquet(path):
        try:
            raw = pd.read_parquet(path)
        except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
            raise BarsImportError(f"{path}: reading Parquet needs pyarrow ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - any reader error is a bad file
            raise BarsImportError(f"{path}: not a readable Parquet file ({exc})") from None
        return validate_frame(raw, source=str(path), first_line=0, line_label="row", index_time=True)
    try:
        # Everything as text: each cell is parsed (and reported) by us. Blank lines stay in as empty
        # rows so that row i is line i + 2 of the file.
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise BarsImportError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BarsImportError(f"{path}: not a readable CSV file ({exc})") from None
    if len(raw) and len(raw.columns):
        blank = (raw.apply(lambda col: col.str.strip()) == "").all(axis=1)
        raw = raw[~blank.to_numpy()]
    lines = raw.index.to_numpy() + 2  # the header is line 1
    return validate_frame(raw, source=str(path), line_numbers=lines, line_label="line", index_time=False)


def _find_columns(frame: pd.DataFrame) -> dict[str, Any]:
    by_lower: dict[str, Any] = {}
    for column in frame.columns:
        by_lower.setdefault(str(column).strip().lower(), column)
    return by_lower


def _parse_times(values: pd.Series | pd.Index) -> pd.Series:
    """UTC-naive datetime64[ns] per value; NaT where a value is not a time. Naive times are UTC,
    aware ones are converted to UTC. Whole numbers are Unix epoch seconds (milliseconds above 1e11)."""
    series = pd.Series(values, copy=False).reset_index(drop=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return _epoch(pd.to_numeric(series, errors="coerce"))
    text = series.astype("string").str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    filled = text.fillna("") != ""
    if filled.any() and numeric[filled].notna().all():
        return _epoch(numeric)
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    if not filled.any():
        return out
    candidates = text[filled]
    parsed = _to_utc(candidates, None)
    retry = parsed.isna()
    if retry.any():  # the format inferred from the first value did not fit these: parse each alone
        parsed[retry] = _to_utc(candidates[retry], "mixed")
    out[filled] = parsed
    return out


def _to_utc(text: pd.Series, fmt: str | None) -> pd.Series:
    try:
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format=fmt)
    except (ValueError, TypeError, OverflowError):
        parsed = pd.Series([_one_time(v) for v in text], index=text.index, dtype="datetime64[ns, UTC]")
    return pd.Series(parsed, index=text.index).dt.tz_localize(None).astype("datetime64[ns]")


def _one_time(value: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    if stamp is pd.NaT:
        return pd.NaT
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _epoch(numbers: pd.Series) -> pd.Series:
    finite = numbers.where(np.isfinite(numbers.astype(float)))
    unit_ms = finite.abs().max() > 1e11 if finite.notna().any() else False
    return pd.to_datetime(finite, unit="ms" if unit_ms else "s", errors="coerce").astype("datetime64[ns]")


def _show(value: Any) -> str:
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
    return repr(text) if text else "empty"


def validate_frame(
    frame: pd.DataFrame,
    *,
    source: str = "bars",
    first_line: int = 0,
    line_label: str = "row",
    index_time: bool = True,
    line_numbers: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Validate bars given as a frame and return them clean (see the module doc).

    The time is the ``timestamp``/``date``/``datetime``/``time`` column (any letter case) or, when
    ``index_time`` and there is none, the index. Row ``i`` (0-based position) is reported as
    ``line_numbers[i]`` when given, else ``first_line + i``. Raises BarsImportError listing every bad row.
    """
    columns = _find_columns(frame)
    time_column = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
    index = frame.index
    index_is_time = isinstance(index, pd.DatetimeIndex) or (
        index.name is not None and str(index.name).strip().lower() in TIME_COLUMNS)
    if time_column is None and not (index_time and index_is_time):
        where = "a time column or a time index" if index_time else "a time column"
        raise BarsImportError(
            f"{source}: no time: need {where} named one of {', '.join(TIME_COLUMNS[:3])} (any letter case); "
            f"columns found: {', '.join(map(str, frame.columns)) or 'none'}")
    missing = [c for c in PRICE_COLUMNS if c not in columns]
    if missing:
        raise BarsImportError(
            f"{source}: missing column(s) {', '.join(missing)}; columns found: {', '.join(map(str, frame.columns))}")
    n = len(frame)
    if n == 0:
        raise BarsImportError(f"{source}: no bars in the file")
    numbers = (np.arange(n) + first_line if line_numbers is None else np.asarray(line_numbers)).tolist()

    raw_time = frame[time_column] if time_column is not None else frame.index.to_series()
    times = _parse_times(raw_time)
    raw = {c: frame[columns[c]].reset_index(drop=True) for c in PRICE_COLUMNS}
    values = {c: pd.to_numeric(raw[c], errors="coerce").astype(float).to_numpy() for c in PRICE_COLUMNS}
    if "volume" in columns:
        raw["volume"] = frame[columns["volume"]].reset_index(drop=True)
        empty = raw["volume"].isna() | (raw["volume"].astype("string").str.strip() == "")
        volume = pd.to_numeric(raw["volume"].where(~empty, "0"), errors="coerce").astype(float).to_numpy()
    else:
        volume = np.zeros(n)

    problems: dict[int, list[str]] = {}

    def flag(mask: np.ndarray, message) -> None:
        for i in np.flatnonzero(mask).tolist():
            problems.setdefault(i, []).append(message(i))

    time_values = times.to_numpy()
    flag(np.isnat(time_values), lambda i: f"time {_show(raw_time.iloc[i])} is not a date/time")
    for c in PRICE_COLUMNS:
        v = values[c]
        flag(~np.isfinite(v), lambda i, c=c: f"{c} {_show(raw[c].iloc[i])} is not a number")
        flag(np.isfinite(v) & (v <= 0), lambda i, c=c: f"{c} {values[c][i]:g} is not positive")
    o, h, lo, cl = (values[c] for c in PRICE_COLUMNS)
    with np.errstate(invalid="ignore"):
        prices_ok = np.logical_and.reduce([np.isfinite(v) & (v > 0) for v in (o, h, lo, cl)])
        body_high, body_low = np.fmax(o, cl), np.fmin(o, cl)
        flag(prices_ok & (h < body_high), lambda i: f"high {h[i]:g} is below max(open, close) {body_high[i]:g}")
        flag(prices_ok & (lo > body_low), lambda i: f"low {lo[i]:g} is above min(open, close) {body_low[i]:g}")
        flag(~np.isfinite(volume), lambda i: f"volume {_show(raw['volume'].iloc[i])} is not a number")
        flag(np.isfinite(volume) & (volume < 0), lambda i: f"volume {volume[i]:g} is negative")
    valid_time = ~np.isnat(time_values)
    duplicated = times.duplicated(keep="first").to_numpy() & valid_time
    if duplicated.any():
        first_seen = {}
        for i, t in enumerate(time_values.tolist()):
            if valid_time[i]:
                first_seen.setdefault(t, i)
        flag(duplicated, lambda i: (f"duplicate time {pd.Timestamp(time_values[i]).isoformat()} "
                                    f"(first on {line_label} {numbers[first_seen[time_values[i].item()]]})"))
    if problems:
        listed = [(numbers[i], "; ".join(problems[i])) for i in sorted(problems)]
        raise BarsImportError(f"{source}: {len(listed)} bad row(s) of {n}; nothing was imported", listed, line_label)

    clean = pd.DataFrame({"time": times.to_numpy(dtype="datetime64[ns]"), "open": o, "high": h, "low": lo,
                          "close": cl, "volume": volume})
    return clean.sort_values("time", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- writing


def _engine(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(str(engine_or_url)), True


def _dialect_insert(engine: Engine):
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - SQLite and PostgreSQL are the supported databases
        raise RuntimeError(f"importing bars needs SQLite or PostgreSQL, not {engine.dialect.name}")
    return insert


def _require_table(engine: Engine, name: str) -> None:
    if not inspect(engine).has_table(name):
        raise RuntimeError(f"the database has no {name} table: run `tradeboard migrate` first")


def import_bars(engine_or_url: Engine | str, frame: pd.DataFrame, symbol: str, timeframe: str = "1d") -> ImportResult:
    """Upsert ``frame``'s bars for ``symbol``/``timeframe`` in one transaction (see the module doc).

    ``frame`` is validated again (cheap: vectorised) so any caller gets the same guarantees as
    ``read_bars``; its bad rows are reported by 0-based position.
    """
    started = _time.perf_counter()
    symbol, timeframe = check_symbol(symbol), check_timeframe(timeframe)
    clean = validate_frame(frame)
    if clean.empty:
        raise BarsImportError("no bars to import")
    engine, owned = _engine(engine_or_url)
    try:
        _require_table(engine, Bar.__tablename__)
        insert = _dialect_insert(engine)
        table = Bar.__table__
        times = [t.to_pydatetime() for t in pd.DatetimeIndex(clean["time"])]
        prices = {c: clean[c].astype(float).tolist() for c in (*PRICE_COLUMNS, "volume")}
        rows = [{"symbol": symbol, "timeframe": timeframe, "time": t,
                 **{c: prices[c][i] for c in prices}} for i, t in enumerate(times)]
        first, last = min(times), max(times)
        with engine.begin() as conn:
            existing = {
                r.time: (r.open, r.high, r.low, r.close, r.volume)
                for r in conn.execute(
                    select(table.c.time, table.c.open, table.c.high, table.c.low, table.c.close, table.c.volume)
                    .where(table.c.symbol == symbol, table.c.timeframe == timeframe,
                           table.c.time >= first, table.c.time <= last))
            }
            inserted = updated = unchanged = 0
            for row in rows:
                old = existing.get(row["time"])
                if old is None:
                    inserted += 1
                elif old == (row["open"], row["high"], row["low"], row["close"], row["volume"]):
                    unchanged += 1
                else:
                    updated += 1
            stmt = insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.symbol, table.c.timeframe, table.c.time],
                set_={c: getattr(stmt.excluded, c) for c in (*PRICE_COLUMNS, "volume")},
            )
            for lo in range(0, len(rows), CHUNK_ROWS):
                conn.execute(stmt, rows[lo:lo + CHUNK_ROWS])
    finally:
        if owned:
            engine.dispose()
    return ImportResult(symbol, timeframe, len(rows), inserted, updated, unchanged, first, last,
                        round(_time.perf_counter() - started, 3))


# --------------------------------------------------------------------------- reading back


def _day_bound(value: dt.datetime | dt.date | str | None) -> dt.datetime | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def load_bars(
    engine_or_url: Engine | str,
    symbol: str,
    timeframe: str = "1d",
    start: dt.datetime | dt.date | str | None = None,
    end: dt.datetime | dt.date | str | None = None,
    end_exclusive: bool = False,
) -> pd.DataFrame:
    """The stored bars of ``symbol``/``timeframe`` with ``start <= time <= end`` (``< end`` when
    ``end_exclusive``), in time order, as a frame with a ``time`` column (naive UTC)."""
    symbol, timeframe = check_symbol(symbol), check_timeframe(timeframe)
    engine, owned = _engine(engine_or_url)
    try:
        table = Bar.__table__
        conditions = [table.c.symbol == symbol, table.c.timeframe == timeframe]
        if (lower := _day_bound(start)) is not None:
            conditions.append(table.c.time >= lower)
        if (upper := _day_bound(end)) is not None:
            conditions.append(table.c.time < upper if end_exclusive else table.c.time <= upper)
        query = (select(table.c.time, table.c.open, table.c.high, table.c.low, table.c.close, table.c.volume)
                 .where(and_(*conditions)).order_by(table.c.time))
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    finally:
        if owned:
            engine.dispose()
    frame = pd.DataFrame(rows, columns=["time", *PRICE_COLUMNS, "volume"])
    frame["time"] = pd.to_datetime(frame["time"]).astype("datetime64[ns]")
    for column in (*PRICE_COLUMNS, "volume"):
        frame[column] = frame[column].astype(float)
    return frame


def stored_series(engine_or_url: Engine | str) -> list[dict[str, Any]]:
    """Every (symbol, timeframe) with bars: count, first and last time."""
    engine, owned = _engine(engine_or_url)
    try:
        if not inspect(engine).has_table(Bar.__tablename__):
            return []
        table = Bar.__table__
        query = (select(table.c.symbol, table.c.timeframe, func.count(), func.min(table.c.time), func.max(table.c.time))
                 .group_by(table.c.symbol, table.c.timeframe).order_by(table.c.symbol, table.c.timeframe))
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    finally:
        if owned:
            engine.dispose()
    return [{"symbol": s, "timeframe": tf, "bars": int(n), "first": first, "last": last}
            for s, tf, n, first, last in rows]
