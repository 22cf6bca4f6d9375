"""`/api/v1/dashboards/*`: every dashboard as a JSON document, built by the same data_access
function the page uses (so a warmed cache key serves both)."""

from __future__ import annotations

import re

import flask

from app.auth import json_error, json_response, require_role
from app.csv_export import csv_response, document_or_csv, requested_format, rows_to_csv
from app.extensions import state
from app.shared_documents import shared
from data_access.client_dashboard import DEFAULT_TIME_RANGE, TIME_RANGES, client_dashboard_for
from data_access.signal_sender_dashboard import may_read_strategy

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
@shared
def client():
    from app.auth import current_user

    time_range, force, error = range_and_force()
    fmt, format_error = requested_format()
    if error is not None or format_error is not None:
        return error or format_error
    user = current_user()
    scope = tuple(user.account_scope) if user is not None and user.role == "client" else ()
    limited = {"accounts": scope} if scope else {}  # a client limited to named accounts sees only those
    return document_or_csv(client_dashboard_for(state().settings, time_range, force, **limited), "client", fmt)


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


@blueprint.get("/signal-sender")
@require_role("admin", "analyst", "developer")
@shared
def signal_sender():
    from app.auth import current_user
    from data_access.signal_sender_dashboard import signal_sender_dashboard_for

    time_range, force, error = range_and_force()
    fmt, format_error = requested_format()
    if error is not None or format_error is not None:
        return error or format_error
    info, error = _readable_strategy(current_user())
    if error is not None:
        return error
    doc = signal_sender_dashboard_for(state().settings, info["strategy_name"], time_range, force)
    return document_or_csv(doc, "signal-sender", fmt)


@blueprint.get("/signal-sender/signals")
@require_role("admin", "analyst", "developer")
@shared
def signal_sender_signals():
    """One page of the strategy's whole signal history: ?start=&end= rows, ?sort=<column>&dir=asc|desc."""
    from app.auth import current_user
    from data_access import signal_sender_dashboard as ssd
    from data_access.signal_history import TEXT_FILTERABLE

    info, error = _readable_strategy(current_user())
    fmt, format_error = requested_format()
    if error is not None or format_error is not None:
        return error or format_error
    args = flask.request.args
    sort = args.get("sort")
    sort_model = [{"colId": sort, "sort": args.get("dir", "asc")}] if sort else None
    filter_model = {}
    for column in TEXT_FILTERABLE:  # ?symbol=AAPL -> a case-insensitive "contains" text filter
        if args.get(column):
            filter_model[column] = {"filterType": "text", "type": "contains", "filter": args[column]}
    try:
        page = ssd.signal_page(info["strategy_id"], args.get("start", 0), args.get("end", 100), sort_model, filter_model)
    except ssd.InvalidPageRequest as exc:
        return json_error(400, "invalid_parameter", str(exc),
                          {"sortable": sorted(ssd.SORTABLE), "filterable": ssd.FILTERABLE})
    if fmt == "csv":
        return csv_response(rows_to_csv(page["rows"]), f"signals-{info['strategy_name']}.csv")
    return json_response(page)


# --------------------------------------------------------------------------- paper trading


@blueprint.get("/paper-trading")
@require_role("admin", "analyst")
@shared
def paper_trading():
    """Every section in one response, read in parallel: ?limit=1..500 rows per list, ?refresh=true."""
    from data_access import paper_trading as pt

    try:
        limit = pt.check_limit(flask.request.args.get("limit", pt.DEFAULT_LIMIT))
    except pt.InvalidLimit as exc:
        return json_error(400, "invalid_parameter", str(exc), {"parameter": "limit", "min": 1, "max": pt.MAX_LIMIT})
    try:
        refresh = flag("refresh")
    except ValueError as exc:
        return json_error(400, "invalid_parameter", str(exc), {"parameter": "refresh", "valid": ["true", "false"]})
    fmt, format_error = requested_format()
    if format_error is not None:
        return format_error
    return document_or_csv(pt.paper_trading_dashboard_for(state().settings, limit, refresh), "paper-trading", fmt)


@blueprint.get("/paper-trading/lite")
@require_role("admin", "analyst")
@shared
def paper_trading_lite():
    """total_pnl, win_rate, active_trades, daily_pnl, timestamp: one cached read."""
    from data_access.paper_trading import paper_trading_lite_for

    return json_response(paper_trading_lite_for(state().settings))


# --------------------------------------------------------------------------- strategy performance


@blueprint.get("/strategy-performance")
@require_role("admin", "analyst", "developer")
@shared
def strategy_performance():
    """Completed backtests aggregated: ?time_range=7d|30d|90d|all&force_refresh=true, and the
    heatmap's ?heatmap_kind=&heatmap_x=&heatmap_y= (defaults: the first kind with runs, its first
    two numeric parameters)."""
    from data_access import strategy_dashboard as sd

    args = flask.request.args
    time_range = args.get("time_range", sd.DEFAULT_TIME_RANGE)
    if time_range not in sd.TIME_RANGES:
        return json_error(400, "invalid_parameter", f"unknown time_range {time_range!r}",
                          {"parameter": "time_range", "valid": list(sd.TIME_RANGES)})
    try:
        force = flag("force_refresh")
    except ValueError as exc:
        return json_error(400, "invalid_parameter", str(exc), {"parameter": "force_refresh", "valid": ["true", "false"]})
    fmt, format_error = requested_format()
    if format_error is not None:
        return format_error
    try:
        doc = sd.strategy_dashboard(time_range, force=force, heatmap_kind=args.get("heatmap_kind") or None,
                                    heatmap_x=args.get("heatmap_x") or None, heatmap_y=args.get("heatmap_y") or None)
    except sd.InvalidHeatmapAxes as exc:
        return json_error(400, "invalid_parameter", str(exc), {"parameter": "heatmap"})
    return document_or_csv(doc, "strategy-performance", fmt)


# --------------------------------------------------------------------------- refresh and cache control (admin)


@blueprint.post("/refresh")
@require_role("admin")
def refresh_dashboards():
    """Rebuild every dashboard now and answer what was refreshed and when (?async=true: queue it, 202)."""
    from data_access.warming import warm_all

    try:
        queue = flag("async")
    except ValueError as exc:
        return json_error(400, "invalid_parameter", str(exc), {"parameter": "async", "valid": ["true", "false"]})
    if queue:
        import tasks

        result = tasks.celery_app.send_task("tasks.dashboards.refresh_all_dashboards")
        return json_response({"task_id": result.id, "queued": "tasks.dashboards.refresh_all_dashboards"}, 202)
    report = warm_all(state().settings)
    report["status"] = "partial" if report["errors"] else "ok"
    return json_response(report)


cache_blueprint = flask.Blueprint("cache_api", __name__, url_prefix="/api/v1/cache")
_PATTERN = re.compile(r"^[A-Za-z0-9_*?:.\-\[\]]{1,200}$")


@cache_blueprint.post("/clear")
@require_role("admin")
def clear_cache():
    """Delete cached sections whose key matches ?pattern= (Redis glob over `<section>:g<gen>:<args>`,
    e.g. `by_symbol:*` or `*:7d*`; default `*`), or with ?family=NAME invalidate one data family."""
    from data_access.cache import sections

    family = flask.request.args.get("family")
    if family is not None:
        if family not in sections.families:
            return json_error(400, "invalid_parameter", f"unknown family {family!r}",
                              {"parameter": "family", "valid": sorted(sections.families)})
        sections.bump(family)
        return json_response({"invalidated_family": family})
    pattern = flask.request.args.get("pattern", "*")
    if not _PATTERN.match(pattern):
        return json_error(400, "invalid_parameter", "pattern may use letters, digits, _ - . : and the globs * ? []",
                          {"parameter": "pattern"})
    return json_response({"pattern": pattern, "deleted": sections.clear(pattern)})


def init_app(server: flask.Flask) -> None:
    server.register_blueprint(blueprint)
    server.register_blueprint(cache_blueprint)
