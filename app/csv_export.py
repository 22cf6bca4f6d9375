"""``?format=csv`` for the dashboard endpoints: one tabular section as CSV.

``GET /api/v1/dashboards/client?format=csv&section=accounts`` answers that section's rows as
``text/csv`` (a download named after the dashboard and section); an empty section is its header
line alone, with the columns the API's schema gives its rows. Nested values are written as
JSON; a cell that a spreadsheet would run as a formula (starting with = + - @ tab or CR) is
prefixed with ``'``. ``format`` other than json/csv, or a missing or non-tabular section, is a 400
naming the valid values.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import flask

from app.auth import json_error

FORMATS = ("json", "csv")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def requested_format() -> tuple[str | None, flask.Response | None]:
    value = flask.request.args.get("format", "json").strip().lower()
    if value not in FORMATS:
        return None, json_error(400, "invalid_parameter", f"unknown format {value!r}",
                                {"parameter": "format", "valid": list(FORMATS)})
    return value, None


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, separators=(",", ":"), default=str)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # a leading minus on a number is fine; text that a spreadsheet would evaluate is not
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def rows_to_csv(rows: list, columns: list[str] | None = None) -> str:
    """Rows (dicts, or lists with ``columns``) as CSV text with a header line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if rows and isinstance(rows[0], dict):
        columns = columns or list(dict.fromkeys(k for row in rows for k in row))
        writer.writerow(columns)
        writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    else:
        if columns:
            writer.writerow(columns)
        writer.writerows([_cell(v) for v in (row if isinstance(row, (list, tuple)) else [row])] for row in rows)
    return out.getvalue()


def csv_response(text: str, filename: str) -> flask.Response:
    response = flask.Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def tabular_sections(doc: dict[str, Any]) -> dict[str, list]:
    """The document's list-valued sections (and lists nested one level down, as ``a.b``)."""
    found = {}
    for key, value in doc.items():
        if key in ("sections", "metadata", "errors"):
            continue
        if isinstance(value, list):
            found[key] = value
        elif isinstance(value, dict):
            for inner, nested in value.items():
                if isinstance(nested, list) and nested and isinstance(nested[0], (dict, list)):
                    found[f"{key}.{inner}"] = nested
    return found


LIST_COLUMNS = {"equity_curve": ["date", "equity"], "daily_returns": ["date", "return"]}
DOCUMENT_SCHEMAS = {"client": "ClientDashboard", "signal-sender": "SignalSenderDashboard",
                    "paper-trading": "PaperTradingDashboard", "strategy-performance": "StrategyPerformanceDashboard"}


def _resolved(schema: dict | None) -> dict | None:
    """``schema`` with its $ref followed and a nullable wrapper (anyOf [x, null]) taken off."""
    from app.openapi.schemas import COMPONENTS

    while schema:
        if "$ref" in schema:
            schema = COMPONENTS.get(schema["$ref"].rsplit("/", 1)[-1])
        elif "anyOf" in schema:
            schema = next((s for s in schema["anyOf"] if s.get("type") != "null"), None)
        else:
            return schema
    return None


def schema_columns(dashboard: str, section: str) -> list[str] | None:
    """The column names of a tabular section from the API's own schema (for an empty section's header)."""
    from app.openapi.schemas import COMPONENTS

    schema = COMPONENTS.get(DOCUMENT_SCHEMAS.get(dashboard, ""))
    for part in section.split("."):
        schema = _resolved(schema)
        schema = (schema or {}).get("properties", {}).get(part)
    items = _resolved((_resolved(schema) or {}).get("items"))
    properties = (items or {}).get("properties")
    return list(properties) if properties else None


def document_or_csv(doc: dict[str, Any], dashboard: str, fmt: str) -> flask.Response:
    """The document as JSON, or with ``format=csv`` the ``section`` it names as CSV."""
    from app.auth import json_response

    if fmt == "json":
        return json_response(doc)
    sections = tabular_sections(doc)
    section = flask.request.args.get("section", "")
    if section not in sections:
        return json_error(400, "invalid_parameter",
                          f"format=csv needs section= one of the tabular sections; got {section or 'none'!r}",
                          {"parameter": "section", "valid": sorted(sections)})
    rows = sections[section]
    if rows and isinstance(rows[0], dict):
        columns = None
    else:  # rows of values, or none at all: the header still names the columns
        columns = LIST_COLUMNS.get(section) or (schema_columns(dashboard, section) if not rows else None)
    text = rows_to_csv(rows, columns)
    return csv_response(text, f"{dashboard}-{section.replace('.', '-')}.csv")
