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


def range_and_force() -> tuple[str | None, bool, flask.Response | None]:
    """``time_range`` and ``force_refresh`` from the query, or a 400 naming the valid values."""
    time_range = flask.request.args.get("time_range", DEFAULT_TIME_RANGE)
    if time_range not in TIME_RANGES:
        return None, False, json_error(400, "invalid_parameter", f"unknown time_range {time_range!r}",
                                       {"parameter": "time_range", "valid": list(TIME_RANGES)})
    try:
        return time_range, flag("force_refresh"), None
    except ValueError as exc:
        return None, False, json_error(400, "invalid_parameter", str(exc),
                                       {"parameter": "force_refresh", "valid": ["true", "false"]})


@blueprint.get("/client")
@require_role("admin", "analyst", "client")
def client():
    time_range, force, error = range_and_force()
    if error is not None:
        return error
    return json_response(client_dashboard_for(state().settings, time_range, force))


# --------------------------------------------------------------------------- signal sender


def _readable_strategy(user):
    """(strategy info, None) or (None, error response): the strategy named by ?strategy_name= that
    ``user`` may read (a developer only their own)."""
    from data_access import signal_sender_dashboard as ssd

    name = flask.request.args.get("strategy_name", "").strip()
    if not name:
        return None, json_error(400, "missing_parameter", "strategy_name is required", {"parameter": "strategy_name"})
    try:
        info = ssd.strategy_info(name)
    except ssd.StrategyNotFound:
        return None, json_error(404, "not_found", f"no strategy named {name!r}", {"strategy_name": name})
    if not may_read_strategy(user, info):
        return None, json_error(403, "forbidden", f"strategy {name!r} belongs to another developer",
                                {"strategy_name": name})
    return info, None


def may_read_strategy(user, info: dict) -> bool:
    """Admins and analysts read every strategy; a developer only the ones they develop."""
    if user is None:
        return False
    if user.role in ("admin", "analyst"):
        return True
    return user.role == "developer" and info.get("developer_id") == user.id


@blueprint.get("/signal-sender")
@require_role("admin", "analyst", "developer")
def signal_sender():
    from app.auth import current_user
    from data_access.signal_sender_dashboard import signal_sender_dashboard_for

    time_range, force, error = range_and_force()
    if error is not None:
        return error
    info, error = _readable_strategy(current_user())
    if error is not None:
        return error
    return json_response(signal_sender_dashboard_for(state().settings, info["strategy_name"], time_range, force))


@blueprint.get("/signal-sender/signals")
@require_role("admin", "analyst", "developer")
def signal_sender_signals():
    """One page of the strategy's whole signal history: ?start=&end= rows, ?sort=<column>&dir=asc|desc."""
    from app.auth import current_user
    from data_access import signal_sender_dashboard as ssd

    info, error = _readable_strategy(current_user())
    if error is not None:
        return error
    args = flask.request.args
    sort = args.get("sort")
    sort_model = [{"colId": sort, "sort": args.get("dir", "asc")}] if sort else None
    filter_model = {}
    for column in sorted(ssd._TEXT):  # ?symbol=AAPL -> a case-insensitive "contains" text filter
        if args.get(column):
            filter_model[column] = {"filterType": "text", "type": "contains", "filter": args[column]}
    try:
        page = ssd.signal_page(info["strategy_id"], args.get("start", 0), args.get("end", 100), sort_model, filter_model)
    except ssd.InvalidPageRequest as exc:
        return json_error(400, "invalid_parameter", str(exc),
                          {"sortable": sorted(ssd.SORTABLE), "filterable": ssd.FILTERABLE})
    return json_response(page)
