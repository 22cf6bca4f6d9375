"""``POST /api/v1/ingest/<entity>``: the desk's services write their book here.

The body is JSON (an array of objects), NDJSON, CSV or Parquet by its Content-Type; a batch is
all or nothing (400 lists every bad row); rows are upserted on their key, so a retry changes
nothing; after the commit exactly the cache families the entity feeds are invalidated. Roles:
``admin`` and ``ingest`` write every entity, a ``developer`` the signals and executions of their
own strategies (data_access/ingest).
"""

from __future__ import annotations

import flask

from app.auth import current_user, json_error, json_response, require_role
from app.extensions import state
from data_access.ingest import (CONTENT_TYPES, ENTITIES, IngestBusy, IngestForbidden, IngestRejected, UnreadableBody,
                                Writer, ingest, parse)
from data_access.ingest.entities import DEVELOPER_ENTITIES

blueprint = flask.Blueprint("ingest_api", __name__, url_prefix="/api/v1/ingest")

ROLES = ("admin", "ingest", "developer")
TRUE = ("1", "true", "yes")


def _body_or_error(limit: int):
    request = flask.request
    if request.content_length is not None and request.content_length > limit:
        return None, json_error(413, "payload_too_large", f"The body is larger than {limit:,} bytes (MAX_INGEST_BYTES): "
                                "split the batch, or use `tradeboard import` for files.", {"max_bytes": limit})
    request.max_content_length = limit
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        return None, json_error(413, "payload_too_large", f"The body is larger than {limit:,} bytes (MAX_INGEST_BYTES).",
                                {"max_bytes": limit})
    return data, None


@require_role(*ROLES)
def ingest_entity(entity: str):
    user = current_user()
    if user.role == "developer" and entity not in DEVELOPER_ENTITIES:
        return json_error(403, "forbidden", "A developer may write signals and executions of their own strategies only.",
                          {"entity": entity, "allowed_entities": list(DEVELOPER_ENTITIES)})
    mimetype = flask.request.mimetype
    if mimetype not in CONTENT_TYPES:
        return json_error(415, "unsupported_media_type", f"Content-Type {mimetype or '(none)'!r} cannot be ingested.",
                          {"valid": sorted(CONTENT_TYPES)})
    dry_run = flask.request.args.get("dry_run", "false").lower()
    if dry_run not in (*TRUE, "0", "false", "no"):
        return json_error(400, "invalid_parameter", "dry_run must be true or false", {"parameter": "dry_run"})
    settings = state().settings
    data, error = _body_or_error(settings.MAX_INGEST_BYTES)
    if error is not None:
        return error
    try:
        parsed = parse(data, CONTENT_TYPES[mimetype])
        result = ingest(state().engine, entity, parsed, Writer(user.role, user.id), dry_run=dry_run in TRUE)
    except UnreadableBody as exc:
        return json_error(400, "unreadable_body", str(exc), {"entity": entity, "content_type": mimetype})
    except IngestRejected as exc:
        return json_error(400, "invalid_rows", f"{exc}.", {
            "entity": entity, "received": exc.received, "line_kind": exc.line_kind, "errors": exc.problems})
    except IngestBusy as exc:
        return json_error(503, "ingest_busy", f"{exc}: nothing was written; send the batch again.",
                          {"entity": entity, "retry_after_seconds": 5}, headers={"Retry-After": "5"})
    except IngestForbidden as exc:
        return json_error(403, "forbidden", str(exc), {"entity": entity, **exc.details})
    if result.families and not result.dry_run:
        from data_access.cache import sections

        sections.bump(*result.families)
    return json_response(result.to_dict())


for _name in ENTITIES:  # one rule per entity, as the OpenAPI document lists them; anything else is the API's 404
    blueprint.add_url_rule(f"/{_name}", endpoint=f"ingest_{_name.replace('-', '_')}", view_func=ingest_entity,
                           methods=["POST"], defaults={"entity": _name})
