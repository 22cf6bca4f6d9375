"""An uploaded file: its format from its name, a first look (columns and a sample of records), its
bytes kept in the database in chunks until the import is committed or discarded, and the whole file
read back as a parsed batch of raw columns.

The bytes live in ``import_chunks`` rather than on the web host's disk: the worker that checks and
commits the file may run on another machine, and the database is the one store both already share.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import Connection, delete, insert, select

from data_access import models as m
from data_access.ingest.parse import BOM, SUFFIXES as INGEST_SUFFIXES, Parsed, UnreadableBody, parse, parse_file

CHUNK_BYTES = 4 * 1024 * 1024
SAMPLE_ROWS = 20
SUFFIXES = {**INGEST_SUFFIXES, ".txt": "csv", ".xlsx": "xlsx"}  # the ingest path's, and a browser's others


def format_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise UnreadableBody(f"cannot read {filename!r}: choose a .csv, .ndjson, .json, .parquet or .xlsx file")
    return SUFFIXES[suffix]


def read(path: Path, fmt: str) -> Parsed:
    """The whole file as raw columns, each record with its line (CSV, NDJSON, Excel) or number."""
    if fmt == "xlsx":
        return _xlsx(path)
    return parse_file(path, fmt)


def _xlsx(path: Path) -> Parsed:
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a damaged file
        raise UnreadableBody(f"not a readable Excel workbook: {type(exc).__name__}: {exc}"[:300]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.dropna(how="all").reset_index(drop=True)  # rows a spreadsheet leaves blank at the end
    frame = frame.astype(object).where(frame.notna(), None)
    for name in frame.columns:  # times as ISO text: a cell typed as a date is a naive timestamp
        frame[name] = frame[name].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    return Parsed(frame, np.arange(2, len(frame) + 2), [], "line")


def first_look(path: Path, fmt: str) -> tuple[list[str], list[dict]]:
    """The file's column names and its first records (raw), cheaply: CSV and NDJSON read their
    first lines only; Parquet its first row group; JSON and Excel the whole file."""
    if fmt == "csv":
        frame = _sample_csv(path)
    elif fmt == "ndjson":
        frame = _sample_ndjson(path)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(path).read_row_group(0) if pq.ParquetFile(path).num_row_groups else None
        except Exception as exc:  # noqa: BLE001
            raise UnreadableBody(f"not a readable Parquet file: {exc}"[:300]) from None
        frame = table.slice(0, SAMPLE_ROWS).to_pandas() if table is not None else pd.DataFrame()
    else:
        frame = read(path, fmt).frame.head(SAMPLE_ROWS)
    columns = [str(c) for c in frame.columns]
    return columns, records(frame.head(SAMPLE_ROWS))


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-safe records: times as ISO text, nulls as None."""
    return orjson.loads(orjson.dumps(frame.astype(object).where(frame.notna(), None).to_dict("records"),
                                     default=str, option=orjson.OPT_NON_STR_KEYS))


def _sample_csv(path: Path) -> pd.DataFrame:
    with path.open("rb") as handle:
        head = handle.read(1024 * 1024)
    lines = head.splitlines(keepends=True)[:SAMPLE_ROWS + 1]
    if not lines:
        raise UnreadableBody("the file is empty")
    return _parsed_frame(b"".join(lines), "csv")


def _sample_ndjson(path: Path) -> pd.DataFrame:
    with path.open("rb") as handle:
        head = handle.read(1024 * 1024)
    lines = [line for line in head.removeprefix(BOM).splitlines() if line.strip()][:SAMPLE_ROWS]
    if not lines:
        raise UnreadableBody("the file is empty")
    return _parsed_frame(b"\n".join(lines), "ndjson")


def _parsed_frame(data: bytes, fmt: str) -> pd.DataFrame:
    return parse(data, fmt).frame


def store(conn: Connection, import_id: int, stream: io.BufferedIOBase) -> int:
    """The file's bytes into import_chunks, in order; returns its size."""
    size, seq = 0, 0
    while chunk := stream.read(CHUNK_BYTES):
        conn.execute(insert(m.ImportChunk), {"import_id": import_id, "seq": seq, "data": chunk})
        size, seq = size + len(chunk), seq + 1
    return size


@contextlib.contextmanager
def fetched(conn: Connection, import_id: int, filename: str) -> Iterator[Path]:
    """The stored file as a temporary file (deleted afterwards), named with its own suffix."""
    handle, name = tempfile.mkstemp(prefix=f"tradeboard-import-{import_id}-", suffix=Path(filename).suffix.lower())
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            seqs = conn.execute(select(m.ImportChunk.seq).where(m.ImportChunk.import_id == import_id)
                                .order_by(m.ImportChunk.seq)).scalars().all()
            if not seqs:
                raise FileNotFoundError(f"import {import_id} has no stored file (committed or discarded already)")
            for seq in seqs:  # one chunk in memory at a time
                out.write(conn.execute(select(m.ImportChunk.data).where(
                    m.ImportChunk.import_id == import_id, m.ImportChunk.seq == seq)).scalar_one())
        yield path
    finally:
        path.unlink(missing_ok=True)


def discard(conn: Connection, import_id: int) -> None:
    conn.execute(delete(m.ImportChunk).where(m.ImportChunk.import_id == import_id))
