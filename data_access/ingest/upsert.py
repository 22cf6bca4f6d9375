"""Upsert a batch of rows on their key, in the caller's transaction, and say what each did.

Rows are compared with what is stored under their key: a new key is inserted, a different value
updated, an identical one left alone. Rows of one batch with the same key apply in order (the last
wins; each is counted against the one before it). Reads and writes go in chunks through the DB-API
cursor: executemany on SQLite; on PostgreSQL, COPY for inserts and psycopg2's execute_batch for
updates. A table with no rows yet is not read at all.
"""

from __future__ import annotations

import datetime as dt
import enum
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sqlalchemy import Connection, Date, DateTime, Float, Integer, Table, and_, select

from data_access.ingest.keys import has_duplicates, positions
from data_access.ingest.lookup import rows_by
from data_access.ingest.rebuild import indexes_built_after, worth_it

CHUNK = 2_000  # rows per executemany / IN list
INSERT_CHUNK = 100_000  # rows turned into DB-API values at a time (SQLite)
COPY_CHUNK = 200_000  # rows per COPY (PostgreSQL)
IN_LIST_MAX = 500  # distinct values of a composite key's column fetched by IN; more: by BETWEEN


@dataclass
class Outcome:
    inserted: int
    updated: int
    unchanged: int
    changed: pd.DataFrame  # the final rows inserted or updated (table columns)
    previous: pd.DataFrame  # the stored rows that were updated, as they were (with id)
    table_was_empty: bool = False  # nothing was stored in the table before this batch


def _normalise(series: pd.Series, column) -> pd.Series:
    """Stored and incoming values in one comparable form."""
    if isinstance(column.type, (DateTime, Date)):  # SQLite's text, PostgreSQL's datetimes, or typed already
        stamps = pd.to_datetime(series, format="ISO8601") if series.dtype == object else pd.to_datetime(series)
        return stamps.astype("datetime64[us]")  # one unit: merging [s] keys with [us] ones matches nothing
    if series.dtype == object and series.notna().any() and isinstance(series.dropna().iloc[0], enum.Enum):
        return series.map(lambda v: getattr(v, "value", v))
    return series


def same_values(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality of two aligned columns, nulls equal to nulls."""
    both_null = a.isna().to_numpy() & b.isna().to_numpy()
    if ptypes.is_datetime64_any_dtype(a.dtype) and ptypes.is_datetime64_any_dtype(b.dtype):
        equal = a.to_numpy() == b.to_numpy()
    elif _numeric(a) and _numeric(b):
        equal = a.to_numpy(dtype=float, na_value=np.nan) == b.to_numpy(dtype=float, na_value=np.nan)
    else:
        with np.errstate(invalid="ignore"):
            equal = (a.to_numpy(dtype=object) == b.to_numpy(dtype=object))
    return both_null | np.asarray(equal, dtype=bool)


def _numeric(series: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype)


def fetch_by_key(conn: Connection, table: Table, key: tuple[str, ...], rows: pd.DataFrame,
                 columns: list[str]) -> pd.DataFrame:
    """The stored rows whose key is among ``rows``' keys: ``id``, the key and ``columns``."""
    wanted = ["id", *key, *[c for c in columns if c not in key]]
    if len(key) == 1:
        stored = rows_by(conn, table, key[0], rows[key[0]], wanted)[wanted]
    else:
        conditions = []
        for name in key:
            values = rows[name].dropna()
            distinct = pd.unique(values)
            day = isinstance(table.c[name].type, Date)  # SQLite matches a DATE only to a date, not a datetime
            if len(distinct) <= IN_LIST_MAX:
                conditions.append(table.c[name].in_([_python(v, day) for v in distinct]))
            else:
                conditions.append(table.c[name].between(_python(values.min(), day), _python(values.max(), day)))
        stored = pd.DataFrame(conn.execute(select(*[table.c[c] for c in wanted]).where(and_(*conditions))).all(),
                              columns=wanted)
    for name in wanted:
        stored[name] = _normalise(stored[name], table.c[name])
        if isinstance(table.c[name].type, (Float, Integer)) and stored[name].dtype == object:
            stored[name] = pd.to_numeric(stored[name])
    if len(key) > 1 and len(stored):  # the prefilter may bring neighbours: keep exact key matches
        stored = stored.merge(rows[list(key)].drop_duplicates(), on=list(key), how="inner")
    return stored


def _python(value, day: bool = False):
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        return value.date() if day else value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def classify(conn: Connection, table: Table, key: tuple[str, ...], rows: pd.DataFrame,
             complete=None) -> tuple[Outcome, pd.DataFrame]:
    """What writing ``rows`` would do, and the stored rows under their keys. ``complete(rows, stored)``
    fills in what rows leave out from the stored row of their key (aligned with them) before comparing."""
    compare = [c for c in rows.columns if c not in key]
    for name in rows.columns:
        rows[name] = _normalise(rows[name], table.c[name])
    empty = conn.exec_driver_sql(f'SELECT 1 FROM "{table.name}" LIMIT 1').first() is None
    if empty:  # no key can be stored: nothing to fetch
        stored = pd.DataFrame({c: pd.Series(dtype=object) for c in ["id", *key, *compare]})
    else:
        stored = fetch_by_key(conn, table, key, rows, compare)
    if not len(stored):  # typed like the rows, so the keys merge (an object column does not merge with times)
        stored = pd.DataFrame({"id": pd.Series(dtype="Int64"),
                               **{c: pd.Series(dtype=rows[c].dtype) for c in [*key, *compare]}})
    if complete is not None:
        rows = _completed(rows, stored, list(key), complete)
        for name in rows.columns:
            rows[name] = _normalise(rows[name], table.c[name])
    if len(key) == 1 and not has_duplicates(rows[key[0]]):
        outcome = _classify_unique(rows, stored, key[0], compare)
    else:
        outcome = _classify_ordered(rows, stored, key, compare)
    outcome.table_was_empty = empty
    return outcome, stored


def _completed(rows: pd.DataFrame, stored: pd.DataFrame, key: list[str], complete) -> pd.DataFrame:
    """``complete(rows, basis)`` where each row's basis is what it applies on top of: the stored row
    of its key, or, for a key repeated in the batch, the row before it as that was completed (so
    sending rows in one batch or split across batches gives the same record)."""
    aligned = rows[key].merge(stored, on=key, how="left")
    aligned.index = rows.index
    if not rows.duplicated(key).any():
        return complete(rows, aligned)
    occurrence = rows.groupby(key, sort=False, dropna=False).cumcount().to_numpy()
    first = occurrence == 0
    parts = [complete(rows[first].copy(), aligned[first])]
    for k in range(1, int(occurrence.max()) + 1):
        at = occurrence == k
        basis = rows.loc[at, key].merge(parts[-1], on=key, how="left")  # one row per key at each occurrence
        basis.index = rows.index[at]
        parts.append(complete(rows[at].copy(), basis))
    return pd.concat(parts).loc[rows.index]


def _classify_unique(rows: pd.DataFrame, stored: pd.DataFrame, key: str, compare: list[str]) -> Outcome:
    """Each row its own key: compared with the stored row of its key only."""
    at = positions(rows[key], stored[key]) if len(stored) else np.full(len(rows), -1)
    exists = at >= 0
    same = exists.copy()
    if exists.any():
        take = np.maximum(at, 0)
        for name in compare:
            theirs = stored[name].iloc[take].reset_index(drop=True)
            theirs.index = rows.index
            same &= same_values(rows[name], theirs)
    write_rows = ~same
    changed = rows[write_rows].copy()
    ids = np.full(len(rows), np.nan)
    if exists.any():
        ids[exists] = stored["id"].to_numpy(dtype=float)[at[exists]]
    changed["id"] = ids[write_rows]
    previous = stored.iloc[at[exists & ~same]] if exists.any() else stored.iloc[:0]
    inserted = int((~exists).sum())
    unchanged = int(same.sum())
    return Outcome(inserted, len(rows) - inserted - unchanged, unchanged, changed[[key, *compare, "id"]],
                   previous.reset_index(drop=True))


def _classify_ordered(rows: pd.DataFrame, stored: pd.DataFrame, key: tuple[str, ...], compare: list[str]) -> Outcome:
    """Rows of one key apply in order: the first is compared with what is stored, each next one with
    the one before it, and the last is written."""
    keyed = rows.reset_index(drop=True)
    keyed["_order"] = np.arange(len(keyed))
    keyed = keyed.sort_values([*key, "_order"], kind="stable")
    first = ~keyed.duplicated(list(key), keep="first").to_numpy()
    last = ~keyed.duplicated(list(key), keep="last").to_numpy()
    previous = keyed.shift(1)
    merged = keyed.merge(stored, on=list(key), how="left", suffixes=("", "_stored"))
    merged.index = keyed.index
    exists = merged["id"].notna().to_numpy()
    same = np.ones(len(keyed), dtype=bool)
    for name in compare:
        stored_name = f"{name}_stored" if f"{name}_stored" in merged else name
        against_stored = same_values(keyed[name], merged[stored_name])
        against_previous = same_values(keyed[name], previous[name])
        same &= np.where(first, against_stored, against_previous)
    inserted = int((first & ~exists).sum())
    unchanged = int((same & ((first & exists) | ~first)).sum())
    updated = len(keyed) - inserted - unchanged
    final = merged[last]
    stored_id = final["id"]
    differs = np.ones(len(final), dtype=bool) if not compare else ~np.logical_and.reduce(
        [same_values(final[c], final[f"{c}_stored"]) for c in compare])
    write_rows = final[stored_id.isna().to_numpy() | differs]
    changed = write_rows[[*key, *compare, "id"]].copy()
    previous_rows = stored[stored["id"].isin(write_rows["id"].dropna())]
    return Outcome(inserted, updated, unchanged, changed, previous_rows)


def write(conn: Connection, table: Table, outcome: Outcome, progress=None) -> None:
    """Insert the new rows and update the changed ones; ``progress(n)`` after each chunk of n rows."""
    rows = outcome.changed
    columns = [c for c in rows.columns if c != "id"]
    is_new = rows["id"].isna().to_numpy()
    with indexes_built_after(conn, table.name, worth_it(conn, int(is_new.sum()), outcome.table_was_empty)):
        if is_new.all():
            bulk_insert(conn, table, rows[columns], progress)
        elif is_new.any():
            bulk_insert(conn, table, rows.loc[is_new, columns], progress)
    if not is_new.all():
        old = rows[~is_new]
        values = [db_values(old[c], table.c[c], conn) for c in columns] + [old["id"].astype(int).tolist()]
        _executemany(conn, f'UPDATE "{table.name}" SET ' + ", ".join(f'"{c}" = {{p}}' for c in columns)
                     + ' WHERE id = {p}', list(zip(*values)), progress)


def db_values(series: pd.Series, column, conn: Connection) -> list:
    """A column's values as the DB-API driver takes them (SQLite: SQLAlchemy's own text formats)."""
    sqlite = conn.dialect.name == "sqlite"
    if isinstance(column.type, (DateTime, Date)):
        stamps = pd.to_datetime(series)
        if sqlite:
            unit = "us" if isinstance(column.type, DateTime) else "D"
            if unit == "us":
                out = sqlite_times(stamps.to_numpy(dtype="datetime64[us]"))
            else:
                out = np.datetime_as_string(stamps.to_numpy(dtype="datetime64[D]"), unit="D").astype(object)
            out[stamps.isna().to_numpy()] = None
            return out.tolist()
        if isinstance(column.type, DateTime):
            return [None if pd.isna(v) else v.to_pydatetime() for v in stamps]
        return [None if pd.isna(v) else v.date() for v in stamps]
    if _numeric(series):
        numbers = series.to_numpy(dtype=float, na_value=np.nan) if ptypes.is_float_dtype(series.dtype) else None
        if numbers is not None:
            values = numbers.tolist()
            for i in np.flatnonzero(np.isnan(numbers)).tolist():
                values[i] = None
            return values
        return series.to_numpy().tolist()
    values = series.astype(object).where(series.notna(), None).tolist()
    if isinstance(series.dtype, pd.StringDtype) or ptypes.infer_dtype(series, skipna=True) in ("string", "empty"):
        return values  # str or None already: no numpy scalar to unwrap
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def sqlite_times(stamps: np.ndarray) -> np.ndarray:
    """datetime64[us] as SQLAlchemy's SQLite text ("2024-01-02 03:04:05.000006"), an object array
    (NaT: None). Arrow's cast writes that form six times faster than numpy's datetime_as_string."""
    import pyarrow as pa

    return pa.array(np.asarray(stamps, dtype="datetime64[us]")).cast(pa.string()).to_numpy(zero_copy_only=False)


def bulk_insert(conn: Connection, table: Table, frame: pd.DataFrame, progress=None) -> int:
    """Insert the rows of ``frame`` (table columns): COPY on PostgreSQL (psycopg2), else executemany."""
    names = list(frame.columns)
    quoted = ", ".join(f'"{n}"' for n in names)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        with conn.connection.dbapi_connection.cursor() as cursor:
            for lo in range(0, len(frame), COPY_CHUNK):
                part = frame.iloc[lo:lo + COPY_CHUNK]
                cursor.copy_expert(f'COPY "{table.name}" ({quoted}) FROM STDIN WITH (FORMAT csv)', _csv(part, table))
                if progress is not None:
                    progress(len(part))
        return len(frame)
    for lo in range(0, len(frame), INSERT_CHUNK):
        part = frame.iloc[lo:lo + INSERT_CHUNK]
        rows = list(zip(*(db_values(part[c], table.c[c], conn) for c in names)))
        marks = ", ".join("{p}" for _ in names)
        _executemany(conn, f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows, progress)
    return len(frame)


def _csv(frame: pd.DataFrame, table: Table) -> io.BytesIO:
    """``frame`` as COPY's CSV: nulls unquoted empty fields, times without an offset."""
    import pyarrow as pa
    from pyarrow import csv

    arrays = {}
    for name in frame.columns:
        series = frame[name]
        if isinstance(table.c[name].type, DateTime):
            arrays[name] = pa.array(pd.to_datetime(series).to_numpy(dtype="datetime64[us]"), type=pa.timestamp("us"))
        elif isinstance(table.c[name].type, Date):
            arrays[name] = pa.array(pd.to_datetime(series).to_numpy(dtype="datetime64[D]"), type=pa.date32())
        elif _numeric(series):
            arrays[name] = pa.array(series.to_numpy(), from_pandas=True)
        else:
            arrays[name] = _arrow_text(series)
    out = io.BytesIO()
    csv.write_csv(pa.table(arrays), out, csv.WriteOptions(include_header=False, quoting_style="needed"))
    out.seek(0)
    return out


def _arrow_text(series: pd.Series):
    """A text column for Arrow, from its object array in C where every value is text or null."""
    import pyarrow as pa

    try:
        return pa.array(series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowException, TypeError):
        return pa.array(series.astype(object).where(series.notna(), None).tolist())


def _executemany(conn: Connection, statement: str, rows: list[tuple], progress=None) -> None:
    raw = conn.connection.dbapi_connection
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = statement.replace("{p}", mark)
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
            from psycopg2.extras import execute_batch

            for lo in range(0, len(rows), CHUNK):
                execute_batch(cursor, sql, rows[lo:lo + CHUNK], page_size=CHUNK)
                if progress is not None:
                    progress(len(rows[lo:lo + CHUNK]))
        else:
            for lo in range(0, len(rows), CHUNK):
                cursor.executemany(sql, rows[lo:lo + CHUNK])
                if progress is not None:
                    progress(len(rows[lo:lo + CHUNK]))
    finally:
        cursor.close()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
