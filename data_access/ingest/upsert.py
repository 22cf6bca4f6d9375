"""Upsert a batch of rows on their key, in the caller's transaction, and say what each did.

Rows are compared with what is stored under their key: a new key is inserted, a different value
updated, an identical one left alone. Rows of one batch with the same key apply in order (the last
wins; each is counted against the one before it). Reads and writes go in chunks through the DB-API
cursor: executemany on SQLite, psycopg2's execute_values/execute_batch on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Date, DateTime, Table, and_, select

CHUNK = 2_000  # rows per executemany / IN list
IN_LIST_MAX = 500  # distinct values of a composite key's column fetched by IN; more: by BETWEEN


@dataclass
class Outcome:
    inserted: int
    updated: int
    unchanged: int
    changed: pd.DataFrame  # the final rows inserted or updated (table columns)
    previous: pd.DataFrame  # the stored rows that were updated, as they were (with id)


def _normalise(series: pd.Series, column) -> pd.Series:
    """Stored and incoming values in one comparable form."""
    if isinstance(column.type, (DateTime, Date)):
        return pd.to_datetime(series)
    if series.dtype == object:
        return series.map(lambda v: getattr(v, "value", v))
    return series


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    both_null = a.isna().to_numpy() & b.isna().to_numpy()
    with np.errstate(invalid="ignore"):
        equal = (a.to_numpy(dtype=object) == b.to_numpy(dtype=object))
    return both_null | np.asarray(equal, dtype=bool)


def fetch_by_key(conn: Connection, table: Table, key: tuple[str, ...], rows: pd.DataFrame,
                 columns: list[str]) -> pd.DataFrame:
    """The stored rows whose key is among ``rows``' keys: ``id``, the key and ``columns``."""
    wanted = ["id", *key, *[c for c in columns if c not in key]]
    cols = [table.c[c] for c in wanted]
    parts = []
    if len(key) == 1:
        values = pd.unique(rows[key[0]].dropna())
        for lo in range(0, len(values), CHUNK):
            chunk = values[lo:lo + CHUNK].tolist()
            parts.append(conn.execute(select(*cols).where(table.c[key[0]].in_(chunk))).all())
    else:
        conditions = []
        for name in key:
            values = rows[name].dropna()
            distinct = pd.unique(values)
            if len(distinct) <= IN_LIST_MAX:
                conditions.append(table.c[name].in_([_python(v) for v in distinct]))
            else:
                conditions.append(table.c[name].between(_python(values.min()), _python(values.max())))
        parts.append(conn.execute(select(*cols).where(and_(*conditions))).all())
    stored = pd.DataFrame([r for part in parts for r in part], columns=wanted)
    for name in wanted:
        stored[name] = _normalise(stored[name], table.c[name])
    if len(key) > 1 and len(stored):  # the prefilter may bring neighbours: keep exact key matches
        stored = stored.merge(rows[list(key)].drop_duplicates(), on=list(key), how="inner")
    return stored


def _python(value):
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def classify(conn: Connection, table: Table, key: tuple[str, ...], rows: pd.DataFrame) -> tuple[Outcome, pd.DataFrame]:
    """What writing ``rows`` would do, and the stored rows under their keys."""
    compare = [c for c in rows.columns if c not in key]
    for name in rows.columns:
        rows[name] = _normalise(rows[name], table.c[name])
    stored = fetch_by_key(conn, table, key, rows, compare)
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
        against_stored = _same(keyed[name], merged[f"{name}_stored"] if f"{name}_stored" in merged else merged[name])
        against_previous = _same(keyed[name], previous[name])
        same &= np.where(first, against_stored, against_previous)
    inserted = int((first & ~exists).sum())
    unchanged = int((same & ((first & exists) | ~first)).sum())
    updated = len(keyed) - inserted - unchanged
    final = merged[last]
    stored_id = final["id"]
    differs = np.ones(len(final), dtype=bool) if not compare else ~np.logical_and.reduce(
        [_same(final[c], final[f"{c}_stored"]) for c in compare])
    write = final[stored_id.isna().to_numpy() | differs]
    changed = write[[*key, *compare, "id"]].copy()
    previous_rows = stored[stored["id"].isin(write["id"].dropna())]
    return Outcome(inserted, updated, unchanged, changed, previous_rows), stored


def write(conn: Connection, table: Table, outcome: Outcome, progress=None) -> None:
    """Insert the new rows and update the changed ones; ``progress(n)`` after each chunk of n rows."""
    rows = outcome.changed
    columns = [c for c in rows.columns if c != "id"]
    new = rows[rows["id"].isna()]
    old = rows[rows["id"].notna()]
    if len(new):
        bulk_insert(conn, table, {c: db_values(new[c], table.c[c], conn) for c in columns}, progress)
    if len(old):
        values = [db_values(old[c], table.c[c], conn) for c in columns] + [old["id"].astype(int).tolist()]
        _executemany(conn, f'UPDATE "{table.name}" SET ' + ", ".join(f'"{c}" = {{p}}' for c in columns)
                     + ' WHERE id = {p}', list(zip(*values)), progress)


def db_values(series: pd.Series, column, conn: Connection) -> list:
    """A column's values as the DB-API driver takes them (SQLite: SQLAlchemy's own text formats)."""
    sqlite = conn.dialect.name == "sqlite"
    if isinstance(column.type, DateTime):
        stamps = pd.to_datetime(series)
        if sqlite:
            text = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            return text.astype(object).where(stamps.notna(), None).tolist()
        return [None if pd.isna(v) else v.to_pydatetime() for v in stamps]
    if isinstance(column.type, Date):
        stamps = pd.to_datetime(series)
        if sqlite:
            return stamps.dt.strftime("%Y-%m-%d").astype(object).where(stamps.notna(), None).tolist()
        return [None if pd.isna(v) else v.date() for v in stamps]
    values = series.astype(object).where(series.notna(), None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def bulk_insert(conn: Connection, table: Table, columns: dict[str, list], progress=None) -> int:
    names = list(columns)
    rows = list(zip(*columns.values()))
    quoted = ", ".join(f'"{n}"' for n in names)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        from psycopg2.extras import execute_values

        with conn.connection.dbapi_connection.cursor() as cursor:
            for lo in range(0, len(rows), CHUNK):
                execute_values(cursor, f'INSERT INTO "{table.name}" ({quoted}) VALUES %s', rows[lo:lo + CHUNK],
                               page_size=CHUNK)
                if progress is not None:
                    progress(len(rows[lo:lo + CHUNK]))
    else:
        marks = ", ".join("{p}" for _ in names)
        _executemany(conn, f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows, progress)
    return len(rows)


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
