"""The ingest operations of the OpenAPI document: one path per entity, its row schema drawn from
the entity's fields (data_access/ingest/entities.py), so the document and the validation cannot
drift apart."""

from __future__ import annotations

from typing import Any

from app.ingest_api import ROLES
from app.openapi.json_schema import obj, ref
from app.openapi.operations import operation, query
from data_access.ingest.entities import DEVELOPER_ENTITIES
from data_access.ingest.fields import LARGEST, SMALLEST

ERROR = {"application/json": {"schema": ref("Error")}}

_KIND = {
    "text": lambda f: {"type": "string", "minLength": 1, "maxLength": f.max_len},
    "symbol": lambda f: {"type": "string", "minLength": 1, "maxLength": f.max_len},
    "choice": lambda f: {"type": "string", "enum": list(f.choices)},
    "number": lambda f: {"type": "number", "minimum": -LARGEST, "maximum": LARGEST},
    "positive": lambda f: {"type": "number", "exclusiveMinimum": SMALLEST, "maximum": LARGEST},
    "nonneg": lambda f: {"type": "number", "minimum": 0, "maximum": LARGEST},
    "fraction": lambda f: {"type": "number", "minimum": 0, "maximum": 1},
    "time": lambda f: {"type": "string", "format": "date-time"},
    "date": lambda f: {"type": "string", "format": "date"},
}


def _field_schema(field) -> dict:
    schema = dict(_KIND[field.kind](field))
    if not field.required:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    text = field.valid + (f"; {field.description}" if field.description else "")
    schema["description"] = text
    return schema


def schema_name(entity_name: str) -> str:
    return "Ingest" + "".join(part.title() for part in entity_name.split("-")) + "Row"


def ingest_schemas() -> dict[str, Any]:
    from data_access.ingest import ENTITIES

    schemas = {schema_name(e.name): {
        "type": "object",
        "properties": {f.name: _field_schema(f) for f in e.fields},
        "required": list(e.required),
        "additionalProperties": True,
        "description": f"One {e.name} row. Upserted on ({', '.join(e.key_fields)}). Other properties are ignored and "
                       "named in the answer's `ignored_columns`.",
        "examples": [e.example],
    } for e in ENTITIES.values()}
    schemas["IngestResult"] = obj({
        "entity": {"type": "string"}, "received": {"type": "integer", "minimum": 0},
        "inserted": {"type": "integer", "minimum": 0}, "updated": {"type": "integer", "minimum": 0},
        "unchanged": {"type": "integer", "minimum": 0},
        "ignored_columns": {"type": "array", "items": {"type": "string"}},
        "dry_run": {"type": "boolean"},
    }, description="What the batch did: rows new (inserted), different from what was stored (updated) or identical "
                   "(unchanged). A retry of the same batch answers all unchanged.")
    return schemas


def _responses() -> dict[str, Any]:
    return {
        "200": {"description": "written (or, with dry_run, checked and not written)",
                "content": {"application/json": {"schema": ref("IngestResult")}}},
        "400": {"description": "Nothing was written. `invalid_rows`: `details.errors` lists every bad field of every "
                               "row as {row, line, field, message, valid} (a row without an object, or a column "
                               "missing from the whole batch, has a null field or row); `unreadable_body`: the body "
                               "is not its Content-Type; `invalid_parameter`: a bad dry_run", "content": ERROR},
        "401": {"description": "No session or bearer token (or a revoked one)", "content": ERROR},
        "403": {"description": "The role may not write (analyst, client), or a developer writing another's strategy "
                               "(`details.rows_not_yours`, the rows' numbers) or an entity other than signals and "
                               "executions",
                "content": ERROR},
        "405": {"description": "Another method than POST", "content": ERROR},
        "413": {"description": "The body is larger than MAX_INGEST_BYTES (`details.max_bytes`)", "content": ERROR},
        "415": {"description": "A Content-Type other than JSON, NDJSON, CSV or Parquet (`details.valid`)",
                "content": ERROR},
        "429": {"description": "Rate limited (API_RATE_LIMIT); see Retry-After", "content": ERROR},
        "500": {"description": "An unexpected failure, with an incident id in details", "content": ERROR},
        "503": {"description": "`ingest_busy`: another batch (a long backfill) has held the ingest lock for 30 s; "
                               "nothing was written, send it again after Retry-After", "content": ERROR},
    }


def ingest_paths() -> dict[str, Any]:
    from data_access.ingest import ENTITIES

    paths = {}
    for entity in ENTITIES.values():
        name = schema_name(entity.name)
        rows = {"type": "array", "items": ref(name)}
        body = {"required": True, "content": {
            "application/json": {"schema": rows, "example": [entity.example]},
            "application/x-ndjson": {"schema": {"type": "string"},
                                     "example": "one JSON object (a row) on each line"},
            "text/csv": {"schema": {"type": "string"},
                         "example": ",".join(entity.field_names) + "\n..."},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "contentMediaType":
                                                          "application/vnd.apache.parquet"}},
        }}
        references = "; ".join(f"`{r.field}` must name {r.where}" for r in entity.refs)
        description = (f"Upsert {entity.name} rows on ({', '.join(entity.key_fields)}): all or nothing. "
                       "The same rows again change nothing; a later row with the same key updates its record. "
                       + (f"References that JSON Schema cannot state are checked and answered with a 400: "
                          f"{references}. " if references else ""))
        paths[f"/api/v1/ingest/{entity.name}"] = {"post": operation(
            f"ingest_{entity.name.replace('-', '_')}", f"Write {entity.name}",
            ROLES if entity.name in DEVELOPER_ENTITIES else tuple(r for r in ROLES if r != "developer"),
            _responses(),
            [query("dry_run", {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"], "default": "false"},
                   "check the batch and say what it would do, writing nothing")],
            body=body, tag="ingest", description=description
            + ("A developer may write only the signals and executions of their own strategies."
               if entity.name in DEVELOPER_ENTITIES else ""))}
    return paths
