"""`/api/v1/dashboards/*`: every dashboard as a JSON document, built by the same data_access
function the page uses (so a warmed cache key serves both)."""

from __future__ import annotations

import flask

from app.auth import json_error, json_response, require_role
from app.extensions import state
from data_access.client_dashboard import DEFAULT_TIME_RANGE, TIME_RANGES, client_dashboard_for

blueprint = flask.Blueprint("dashboards_api", __name__, url_prefix="/api/v1/dashboards")

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


def flag(name: str) -> bool:
    """A boolean query parameter; anything but true/false is a 400 (raised as ValueError)."""
    raw = flask.request.args.get(name, "false").strip().lower()
    if raw not in _TRUE | _FALSE:
        raise ValueError(f"{name} must be true or false, got {raw!r}")
    return raw in _TRUE


@blueprint.get("/client")
@require_role("admin", "analyst", "client")
def client():
    time_range = flask.request.args.get("time_range", DEFAULT_TIME_RANGE)
    if time_range not in TIME_RANGES:
        return json_error(400, "invalid_parameter", f"unknown time_range {time_range!r}",
                          {"parameter": "time_range", "valid": list(TIME_RANGES)})
    try:
        force = flag("force_refresh")
    except ValueError as exc:
        return json_error(400, "invalid_parameter", str(exc), {"parameter": "force_refresh", "valid": ["true", "false"]})
    return json_response(client_dashboard_for(state().settings, time_range, force))
