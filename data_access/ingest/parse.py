"""Bodies and files into a frame of raw columns: JSON (an array of objects), NDJSON (an object a
line), CSV (a header row) and Parquet. Every record keeps the line it came from, so a bad row is
reported where the sender can find it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from data_access.ingest.fields import Problem

FORMATS = ("json", "ndjson", "csv", "parquet")
CONTENT_TYPES = {
    "application/json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonlines": "ndjson",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
SUFFIXES = {".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson", ".csv": "csv", ".parquet": "parquet",
            ".pq": "parquet"}


class UnreadableBody(ValueError):
    """The body as a whole cannot be read as its format (not a row-level problem)."""


@dataclass
class Parsed:
    frame: pd.DataFrame  # raw columns, one record a row
    lines: np.ndarray  # the line (CSV, NDJSON) or 1-based record number (JSON, Parquet) of each record
    problems: list[Problem] = field(default_factory=list)  # records that are not objects at all
    line_kind: str = "row"


def format_of_path(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UnreadableBody(f"cannot tell the format of {path.name}: use one of {', '.join(sorted(SUFFIXES))}")
    return SUFFIXES[suffix]


def parse(data: bytes, fmt: str) -> Parsed:
    if fmt == "json":
        return _json(data)
    if fmt == "ndjson":
        return _ndjson(data)
    if fmt == "csv":
        return _csv(data)
    if fmt == "parquet":
        return _parquet(io.BytesIO(data))
    raise UnreadableBody(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


def parse_file(path: Path, fmt: str | None = None) -> Parsed:
    fmt = fmt or format_of_path(path)
    if fmt == "parquet":
        return _parquet(path)
    if fmt == "csv":
        return _csv(path)
    return parse(path.read_bytes(), fmt)


def _records(records: list, lines: np.ndarray, line_kind: str) -> Parsed:
    problems = [Problem(i, "", f"is {type(r).__name__ if r is not None else 'null'}, not an object",
                        "an object of field names and values")
                for i, r in enumerate(records) if not isinstance(r, dict)]
    rows = [r if isinstance(r, dict) else {} for r in records]
    frame = pd.DataFrame(rows, index=range(len(rows)))  # from_records would drop a batch of empty objects
    return Parsed(frame.astype(object), lines, problems, line_kind)


BOM = b"\xef\xbb\xbf"  # what Excel and some Windows tools put before UTF-8 text
NULL_WORDS = ["null", "NULL"]  # a CSV cell some exporters write for "no value"
SPARE_CELLS = 8  # cells a CSV row may have past the header's names, if they are empty


def _json(data: bytes) -> Parsed:
    try:
        value = orjson.loads(data.removeprefix(BOM))
    except orjson.JSONDecodeError as exc:
        raise UnreadableBody(f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, list):
        raise UnreadableBody("a JSON body must be an array of objects, one per row "
                             "(for one object a line, send Content-Type application/x-ndjson)")
    return _records(value, np.arange(1, len(value) + 1), "row")


def _ndjson(data: bytes) -> Parsed:
    records, lines, problems = [], [], []
    for number, line in enumerate(data.removeprefix(BOM).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            problems.append((len(records), f"is not valid JSON: {exc}"))
            records.append(None)
        lines.append(number)
    parsed = _records(records, np.array(lines, dtype=np.int64), "line")
    invalid = {row for row, _message in problems}
    parsed.problems = [p for p in parsed.problems if p.row not in invalid]
    parsed.problems += [Problem(row, "", message, "one JSON object on each line") for row, message in problems]
    return parsed


def _csv(source) -> Parsed:
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    header = _header(source)
    if header is None:
        return Parsed(pd.DataFrame(), np.zeros(0, dtype=np.int64), [], "line")
    # Cells past the header's last column (a trailing comma on every row) land in spare columns, which must
    # be empty: pandas would otherwise shift the columns (taking the first for a row index) or drop them.
    spare = [f"\0spare{i}" for i in range(SPARE_CELLS)]
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=NULL_WORDS, skipinitialspace=True,
                            encoding="utf-8-sig", on_bad_lines="error", engine="c", header=None, skiprows=1,
                            names=[*header, *spare])
    except pd.errors.EmptyDataError:
        return Parsed(pd.DataFrame(), np.zeros(0, dtype=np.int64), [], "line")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise UnreadableBody(f"the body is not readable CSV: {str(exc).strip()}") from None
    extra = frame[spare].notna() & (frame[spare] != "")
    if extra.to_numpy().any():
        line = int(np.flatnonzero(extra.to_numpy().any(axis=1))[0]) + 2
        raise UnreadableBody(f"line {line} has more values than the header has names ({len(header)})")
    frame = frame.drop(columns=spare)
    # line numbers as a spreadsheet shows them: the header is line 1 (quoted newlines would shift them)
    return Parsed(frame.astype(object), np.arange(2, len(frame) + 2), [], "line")


def _header(source) -> list[str] | None:
    """The header's names (None for an empty body); a name given twice is refused, since pandas would
    keep one and rename the other ``name.1``."""
    import csv

    handle = open(source, "rb") if isinstance(source, (str, Path)) else source
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")  # newline="": csv finds \r, \r\n, \n
    try:
        names = next(csv.reader(text), None)
    except UnicodeDecodeError:
        raise UnreadableBody("the body is not UTF-8 text (save the CSV as UTF-8)") from None
    except csv.Error as exc:
        raise UnreadableBody(f"the body is not readable CSV: {exc}") from None
    finally:
        text.detach()
        if handle is source:
            source.seek(0)
        else:
            handle.close()
    if names is None:
        return None
    seen = [name.strip() for name in names]
    repeated = sorted({name for name in seen if name and seen.count(name) > 1})
    if repeated:
        raise UnreadableBody(f"the header names {', '.join(repeated)} more than once: which one holds the value?")
    return seen


def _parquet(source) -> Parsed:
    try:
        frame = pd.read_parquet(source)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise UnreadableBody(f"not a readable Parquet file: {type(exc).__name__}: {exc}"[:300]) from None
    return Parsed(frame.reset_index(drop=True), np.arange(1, len(frame) + 1), [], "row")
