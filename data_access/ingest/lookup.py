"""Stored rows by the values of one column, for batches of any size, in the caller's transaction.

A few thousand values go in IN lists. More are joined through a temporary table of the values
(filled by COPY on PostgreSQL, executemany on SQLite): thousands of IN queries would cost more than
the rows they find. When the values are many against the table (a backfill resolving millions of
signal ids), the table's few wanted columns are read whole instead (PostgreSQL: COPY TO, parsed by
Arrow), and the caller matches them by key.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table

IN_CHUNK = 2_000  # values per IN list
IN_MAX = 10_000  # more values: a temporary table, or the whole table
SCAN_SHARE = 0.25  # values at least this share of the table's rows: read the table whole
KEYS = "ingest_keys"


def rows_by(conn: Connection, table: Table, column: str, values, columns: list[str]) -> pd.DataFrame:
    """The stored rows whose ``column`` is among ``values`` (nulls ignored): a frame of ``column``
    and ``columns``, as the driver returns them (enums as their stored strings, SQLite times as text).
    When the values are many against the table, it is read whole: the frame then holds other rows too."""
    wanted = [column, *[c for c in columns if c != column]]
    values = pd.Series(values).dropna()
    select = ", ".join(f't."{c}"' for c in wanted)
    if len(values) > IN_MAX:
        size = conn.exec_driver_sql(f'SELECT max(id) FROM "{table.name}"').scalar() or 0
        if len(values) >= SCAN_SHARE * size:
            return _whole(conn, table, wanted)
    values = pd.unique(values)
    if not len(values):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in wanted})
    if len(values) <= IN_MAX:
        rows = []
        for lo in range(0, len(values), IN_CHUNK):
            chunk = [_plain(v) for v in values[lo:lo + IN_CHUNK]]
            marks = ", ".join(["?" if conn.dialect.name == "sqlite" else "%s"] * len(chunk))
            rows += _fetch(conn, f'SELECT {select} FROM "{table.name}" t WHERE t."{column}" IN ({marks})',
                           tuple(chunk))
        return _frame(rows, wanted)
    _load_keys(conn, table.c[column].type.compile(conn.dialect), values)
    return _frame(_fetch(conn, f'SELECT {select} FROM {KEYS} k JOIN "{table.name}" t ON t."{column}" = k.k'), wanted)


def _whole(conn: Connection, table: Table, wanted: list[str]) -> pd.DataFrame:
    """``wanted`` columns of every row of ``table``."""
    select = ", ".join(f'"{c}"' for c in wanted)
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg2":
        return _frame(_fetch(conn, f'SELECT {select} FROM "{table.name}"'), wanted)
    import pyarrow as pa
    from pyarrow import csv

    out = io.BytesIO()
    with conn.connection.dbapi_connection.cursor() as cursor:
        cursor.copy_expert(f'COPY (SELECT {select} FROM "{table.name}") TO STDOUT WITH (FORMAT csv)', out)
    out.seek(0)
    types = {name: _arrow_type(table.c[name].type) for name in wanted}
    read = csv.read_csv(out, read_options=csv.ReadOptions(column_names=wanted),
                        parse_options=csv.ParseOptions(newlines_in_values=True),
                        convert_options=csv.ConvertOptions(column_types=types, null_values=[""],
                                                           strings_can_be_null=True, quoted_strings_can_be_null=False,
                                                           true_values=["t"], false_values=["f"]))
    frame = {}
    for name in wanted:
        array = read.column(name)
        if pa.types.is_integer(array.type) and array.null_count == 0:
            frame[name] = pd.Series(array.to_numpy(), dtype=np.int64)
        elif pa.types.is_floating(array.type):
            frame[name] = pd.Series(array.to_numpy(zero_copy_only=False), dtype=np.float64)
        elif pa.types.is_timestamp(array.type):
            frame[name] = pd.Series(array.to_numpy(zero_copy_only=False), dtype="datetime64[us]")
        elif pa.types.is_integer(array.type):  # with nulls
            frame[name] = pd.Series(array.to_pylist(), dtype=object)
        else:  # text, dates, booleans: Python objects, None for null
            frame[name] = pd.Series(array.to_numpy(zero_copy_only=False), dtype=object)
    return pd.DataFrame(frame)


def _arrow_type(sql_type):
    import pyarrow as pa
    from sqlalchemy import Boolean, Date, DateTime, Float, Integer

    if isinstance(sql_type, Boolean):
        return pa.bool_()
    if isinstance(sql_type, Integer):
        return pa.int64()
    if isinstance(sql_type, Float):
        return pa.float64()
    if isinstance(sql_type, DateTime):
        return pa.timestamp("us")
    if isinstance(sql_type, Date):
        return pa.date32()
    return pa.string()


def _fetch(conn: Connection, sql: str, params: tuple = ()) -> list[tuple]:
    """Through the DB-API cursor: plain tuples, which numpy takes in C (SQLAlchemy's rows it walks one by one)."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, params) if params else cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _frame(rows: list, columns: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    # object columns as they are (pandas would turn text into its arrow strings, slow to match
    # against); one 2-D object array is built in C, four times faster than a zip of the rows
    table = np.empty((len(rows), len(columns)), dtype=object)
    table[:] = rows
    return pd.DataFrame({name: pd.Series(table[:, i].copy(), dtype=object) for i, name in enumerate(columns)})


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _load_keys(conn: Connection, sql_type: str, values: np.ndarray) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {KEYS}")  # its type follows the column looked up
    on_commit = " ON COMMIT DROP" if conn.dialect.name == "postgresql" else ""
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {KEYS} (k {sql_type}){on_commit}")
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        text = pd.Series(values).astype(str).str.replace("\\", "\\\\").str.replace("\t", "\\t") \
            .str.replace("\n", "\\n").str.replace("\r", "\\r")
        with raw.cursor() as cursor:
            cursor.copy_expert(f"COPY {KEYS} (k) FROM STDIN", io.StringIO("\n".join(text) + "\n"))
    else:
        cursor = raw.cursor()
        try:
            cursor.executemany(f"INSERT INTO {KEYS} (k) VALUES (?)", [(_plain(v),) for v in values])
        finally:
            cursor.close()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {KEYS}")
