"""The JSON API: blueprint ``/api/v1`` with its health route (the report is `app.health`), the JSON
error answers for unknown paths and methods; the dashboards, backtests, ingest and playback routes are
their own modules.

Errors have one shape everywhere: ``{"error": {"code", "message", "details"}}`` (see
`app.auth.json_error`).
"""

from __future__ import annotations

import flask
from werkzeug.exceptions import MethodNotAllowed

from app.auth import json_error, json_response
from app.extensions import state
from app.health import health_report

bp = flask.Blueprint("api_v1", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health():
    report, status = health_report(state())
    return json_response(report, status, headers={"Cache-Control": "no-store"})


def _api_catch_all():
    """before_request: Dash's catch-all page route would answer unknown /api/ paths with its HTML index."""
    if not flask.request.path.startswith("/api/"):
        return None
    rule = flask.request.url_rule
    if rule is None and isinstance(flask.request.routing_exception, MethodNotAllowed):
        if _methods_of_real_endpoint():
            return None  # a real endpoint, another method: the 405 handler answers
        return json_error(404, "not_found", f"No endpoint at {flask.request.path}.")  # only Dash's catch-all matched
    if rule is None or "<path:" in rule.rule or rule.rule == "/":
        allowed = _methods_of_real_endpoint()
        if allowed:  # e.g. GET /api/v1/backtests, which only takes POST: Dash's catch-all matched the GET
            return json_error(405, "method_not_allowed", f"{flask.request.method} is not allowed here.",
                              {"allowed": allowed}, headers={"Allow": ", ".join(allowed)})
        return json_error(404, "not_found", f"No endpoint at {flask.request.path}.")
    return None


def _methods_of_real_endpoint() -> list[str]:
    """The methods a real (non catch-all) endpoint at this path answers."""
    from werkzeug.exceptions import HTTPException

    adapter = flask.current_app.url_map.bind_to_environ(flask.request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            rule, _args = adapter.match(method=method, return_rule=True)
        except HTTPException:
            continue
        if "<path:" not in rule.rule and rule.rule != "/":
            allowed.append(method)
    return allowed


def _api_not_found(error):
    if flask.request.path.startswith("/api/"):
        return json_error(404, "not_found", f"No endpoint at {flask.request.path}.")
    return error


def _api_method_not_allowed(error):
    if flask.request.path.startswith("/api/"):
        return json_error(405, "method_not_allowed", f"{flask.request.method} is not allowed here.")
    return error


def init_app(server: flask.Flask) -> None:
    server.register_blueprint(bp)
    server.before_request(_api_catch_all)
    server.register_error_handler(404, _api_not_found)
    server.register_error_handler(405, _api_method_not_allowed)
