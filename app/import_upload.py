"""The /import page's own routes: the file's bytes in (``POST /import/upload``, the raw body, up to
``MAX_IMPORT_BYTES``) and every bad row out (``GET /import/<id>/problems.csv``).

The page's ``dcc.Upload`` reads the file in the browser; a clientside callback posts its bytes here
instead of through a Dash callback (whose bodies are capped at ``MAX_REQUEST_BYTES`` and would carry
a 200 MB file base64-encoded through the renderer's state). The body is streamed to a temporary file,
looked at, and kept in the database for the worker that checks and commits it.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import flask

from app.auth import current_user, json_error, json_response
from app.extensions import state
from data_access.imports import jobs
from data_access.imports.access import may_import, may_see
from data_access.ingest import UnreadableBody

blueprint = flask.Blueprint("import_upload", __name__, url_prefix="/import")

COPY_BYTES = 1024 * 1024


@blueprint.post("/upload")
def upload():
    user = current_user()
    if not may_import(user):
        return json_error(403, "forbidden", "Your role may not import files.", {"role": getattr(user, "role", None)})
    filename = Path(flask.request.args.get("filename", "")).name.strip()
    if not filename:
        return json_error(400, "invalid_parameter", "Name the file: ?filename=trades.csv", {"parameter": "filename"})
    limit = state().settings.MAX_IMPORT_BYTES
    if (flask.request.content_length or 0) > limit:
        return _too_large(limit)
    flask.request.max_content_length = limit + 1
    handle, name = tempfile.mkstemp(prefix="tradeboard-upload-", suffix=Path(filename).suffix.lower())
    path = Path(name)
    try:
        size = 0
        with os.fdopen(handle, "wb") as out:
            while chunk := flask.request.stream.read(COPY_BYTES):
                size += len(chunk)
                if size > limit:
                    return _too_large(limit)
                out.write(chunk)
        if size == 0:
            return json_error(400, "unreadable_body", "The file is empty.", {"filename": filename})
        with path.open("rb") as stream:
            record = jobs.receive(state().engine, user, filename, stream, path)
    except UnreadableBody as exc:
        return json_error(400, "unreadable_body", str(exc), {"filename": filename})
    finally:
        path.unlink(missing_ok=True)
    return json_response({"id": record["id"], "filename": record["filename"], "size_bytes": record["size_bytes"],
                          "entity": record["entity"], "preset": record["preset"], "columns": record["columns"]})


def _too_large(limit: int):
    return json_error(413, "payload_too_large", f"The file is larger than {limit:,} bytes (MAX_IMPORT_BYTES): "
                      "split it, or use `tradeboard import` on the server.", {"max_bytes": limit})


@blueprint.get("/<int:import_id>/problems.csv")
def problems_csv(import_id: int):
    record = jobs.get(state().engine, import_id)
    if not may_see(current_user(), record):
        return json_error(404, "not_found", f"No import {import_id} of yours.", {"import_id": import_id})
    out = io.StringIO()
    writer = csv.DictWriter(out, ["entity", "row", "line", "field", "message", "valid"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(jobs.problems(state().engine, import_id))
    stem = Path(record["filename"]).stem
    return flask.Response(out.getvalue(), mimetype="text/csv",
                          headers={"Content-Disposition": f'attachment; filename="{stem}-bad-rows.csv"'})
