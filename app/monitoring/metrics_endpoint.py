"""``GET /metrics``: Prometheus text for admins (or anyone, with METRICS_PUBLIC), and the gate that
answers it before the login guard."""

from __future__ import annotations

import flask

EXTENSION_KEY = "tradeboard.monitor"

bp = flask.Blueprint("monitoring", __name__)


def _metrics_response() -> flask.Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    registry = flask.current_app.extensions[EXTENSION_KEY]["registry"]
    return flask.Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST,
                                                               "Cache-Control": "no-store"})


@bp.get("/metrics")
def metrics():
    from app.auth import current_user, json_error

    if not flask.current_app.extensions[EXTENSION_KEY]["monitor"].settings.METRICS_PUBLIC:
        user = current_user()
        if user is None:
            return json_error(401, "unauthorized", "Sign in or send a bearer token.",
                              headers={"WWW-Authenticate": "Bearer"})
        if not user.is_admin:
            return json_error(403, "forbidden", "Only admins may read /metrics.",
                              {"required_roles": ["admin"], "role": user.role})
    return _metrics_response()


def metrics_gate():
    """Runs before the auth guard: /metrics answers 401 (not a redirect to the login page) without
    credentials, and needs none at all when METRICS_PUBLIC is true."""
    if flask.request.path != "/metrics":
        return None
    from app.auth import SESSION_USER, json_error

    if flask.current_app.extensions[EXTENSION_KEY]["monitor"].settings.METRICS_PUBLIC:
        return _metrics_response()
    if not flask.request.headers.get("Authorization") and SESSION_USER not in flask.session:
        return json_error(401, "unauthorized", "Sign in or send a bearer token.", headers={"WWW-Authenticate": "Bearer"})
    return None
