"""Endpoint names: a stable, bounded name per thing a request asked for (a Flask rule, a Dash callback,
a Dash page)."""

from __future__ import annotations

import logging

import flask

log = logging.getLogger(__name__)

ENDPOINT_ENVIRON_KEY = "tradeboard.endpoint"
MAX_ENDPOINT_LENGTH = 120


def endpoint_name(request: flask.Request) -> str:
    """A stable, bounded name for what ``request`` asked for."""
    rule = request.url_rule
    if rule is None:
        return "<unmatched>"
    path = rule.rule
    if path.endswith("/_dash-update-component"):
        return _dash_callback_name(request) or path
    if path == "/" or "<path:" in path:  # Dash's index routes answer every page
        import dash

        pages = {page["path"] for page in dash.page_registry.values()}
        return request.path if request.path in pages else path
    return path


def _dash_callback_name(request: flask.Request) -> str | None:
    body = request.get_json(silent=True)  # Dash has parsed it already: this is the cached value
    if not isinstance(body, dict):
        return None
    first = body.get("outputs")
    while isinstance(first, list):  # several outputs, or a pattern-matching ALL output
        first = first[0] if first else None
    component = first.get("id") if isinstance(first, dict) else None
    if isinstance(component, dict):  # a pattern-matching id: its type, not its index
        component = component.get("type") or ",".join(sorted(component))
    if not component:
        return None
    return f"dash:{component}"[:MAX_ENDPOINT_LENGTH]


def remember_endpoint(response: flask.Response) -> flask.Response:
    """after_request: name the endpoint while the request is still at hand (runs for error pages too)."""
    try:
        flask.request.environ[ENDPOINT_ENVIRON_KEY] = endpoint_name(flask.request)
    except Exception:  # noqa: BLE001 - naming must never break a response
        log.debug("could not name the endpoint", exc_info=True)
    return response
