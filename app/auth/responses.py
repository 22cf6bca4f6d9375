"""JSON answers of one shape everywhere (``{"error": {"code", "message", "details"}}``) and the role
check of API views."""

from __future__ import annotations

import functools

import flask
import orjson

from app.auth.identity import current_user
from data_access.models import Role


def json_response(payload, status: int = 200, headers: dict | None = None) -> flask.Response:
    response = flask.Response(orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), status=status,
                              mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def json_error(status: int, code: str, message: str, details: dict | None = None,
               headers: dict | None = None) -> flask.Response:
    return json_response({"error": {"code": code, "message": message, "details": details or {}}}, status, headers)


def require_role(*roles: str | Role):
    """Decorator for API views: 401 without a user, 403 JSON unless the user has one of ``roles``."""
    allowed = {r.value if isinstance(r, Role) else str(r) for r in roles}

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                return json_error(401, "unauthorized", "Sign in or send a bearer token.")
            if user.role not in allowed:
                return json_error(403, "forbidden", "Your role may not use this endpoint.",
                                  {"required_roles": sorted(allowed), "role": user.role})
            return view(*args, **kwargs)

        return wrapper

    return decorate
