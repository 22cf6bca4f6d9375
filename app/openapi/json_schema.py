"""Small builders of JSON Schema 2020-12 objects (closed objects, arrays, enums, nullable types) shared
by the response and request schemas and the operations."""

from __future__ import annotations

from typing import Any

S, N, I, B = {"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "boolean"}


def null(schema: dict) -> dict:
    """``schema`` that may also be null."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


NS, NN, NI = null(S), null(N), null(I)


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], optional: tuple[str, ...] = (), description: str | None = None) -> dict:
    """A closed object: every property required except ``optional``."""
    out = {"type": "object", "properties": properties,
           "required": [k for k in properties if k not in optional], "additionalProperties": False}
    if description:
        out["description"] = description
    return out


def arr(items: dict, **extra) -> dict:
    return {"type": "array", "items": items, **extra}


def enum(*values: str) -> dict:
    return {"type": "string", "enum": list(values)}


def date_time() -> dict:
    return {"type": "string", "format": "date-time"}


def date() -> dict:
    return {"type": "string", "format": "date"}
