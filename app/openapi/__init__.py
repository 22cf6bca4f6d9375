"""The API described: an OpenAPI 3.1 document at ``GET /api/v1/openapi.json`` (any signed-in user)
and a readable page at ``GET /api/docs`` (Swagger UI, vendored from the swagger-ui-dist npm package
under assets/vendor/, with an external init script so the CSP needs no inline-script hash).

Every ``/api/v1`` route, ``/metrics`` and the compatibility routes are here with their parameters
(types, enums, ranges), request bodies, response schemas (app/openapi/schemas.py) and error
responses; tests/app/test_openapi.py validates real responses against it.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import flask

from app.openapi.backtests import backtest_paths
from app.openapi.ingest import ingest_paths, ingest_schemas
from app.openapi.json_schema import ref
from app.openapi.operations import (
    BOOL,
    DASHBOARD_ERRORS,
    FORCE,
    FORMAT,
    HEALTH_RESPONSES,
    PAPER_PARAMS,
    ROLES_ADMIN,
    ROLES_ANY,
    ROLES_CLIENT,
    ROLES_PAPER,
    ROLES_SIGNALS,
    SECTION,
    STRATEGY_NAME,
    errors,
    ok,
    operation,
    query,
)
from app.openapi.schemas import COMPONENTS, STRATEGY_TIME_RANGE, TIME_RANGE

blueprint = flask.Blueprint("openapi", __name__)

SWAGGER_UI = "vendor/swagger-ui-5.35.0"

def _paths() -> dict[str, Any]:
    client_params = [query("time_range", {**TIME_RANGE, "default": "90d"}, "the window of curves and returns"), FORCE,
                     FORMAT, SECTION]
    signal_sender_params = [STRATEGY_NAME, query("time_range", {**TIME_RANGE, "default": "90d"}, "the window"), FORCE,
                            FORMAT, SECTION]
    strategy_params = [
        query("time_range", {**STRATEGY_TIME_RANGE, "default": "30d"}, "completed backtests in this window"), FORCE,
        query("heatmap_kind", {"type": "string"}, "strategy kind of the heatmap (default: the first with runs)"),
        query("heatmap_x", {"type": "string"}, "its x parameter (a numeric parameter of that kind)"),
        query("heatmap_y", {"type": "string"}, "its y parameter"), FORMAT, SECTION]
    client_op = lambda op_id: operation(  # noqa: E731
        op_id, "The client (fund) dashboard", ROLES_CLIENT,
        {**ok("ClientDashboard", "the document (or one section as CSV)", csv=True), **errors(*DASHBOARD_ERRORS)},
        client_params, description="The fund: overview, accounts, strategies, positions, risk, curves, recent "
                                   "signals. A client limited to named accounts sees only those.")
    signal_sender_op = lambda op_id, public=False: operation(  # noqa: E731
        op_id, "One strategy's signal-sender dashboard", ROLES_SIGNALS,
        {**ok("SignalSenderDashboard", "the document (or one section as CSV)", csv=True),
         **errors(*DASHBOARD_ERRORS, 404)}, signal_sender_params,
        description="A strategy as its developer sees it: KPIs, PnL, latency, rejections, positions, history. "
                    "No name: 400; unknown name: 404; a developer asking for another's strategy: 403.")
    strategy_op = lambda op_id: operation(  # noqa: E731
        op_id, "Strategy performance (completed backtests aggregated)", ROLES_SIGNALS,
        {**ok("StrategyPerformanceDashboard", "the document (or one section as CSV)", csv=True),
         **errors(*DASHBOARD_ERRORS)}, strategy_params)
    paper_op = lambda op_id, schema="PaperTradingDashboard", csv=True: operation(  # noqa: E731
        op_id, "The paper-trading dashboard", ROLES_PAPER,
        {**ok(schema, "every section, read in parallel", csv=csv), **errors(*DASHBOARD_ERRORS)},
        PAPER_PARAMS + ([FORMAT, SECTION] if csv else []))
    lite_op = lambda op_id: operation(  # noqa: E731
        op_id, "Paper trading in one cached read", ROLES_PAPER, {**ok("PaperTradingLite", "the lite document"),
                                                                 **errors(403)})
    refresh_op = lambda op_id: operation(  # noqa: E731
        op_id, "Rebuild every dashboard now", ROLES_ADMIN,
        {**ok("RefreshReport", "what was refreshed and how long each took"),
         "202": {"description": "?async=true: queued on a Celery worker",
                 "content": {"application/json": {"schema": ref("RefreshQueued")}}},
         **errors(400, 403)}, [query("async", BOOL, "queue it on a worker instead (202)")], tag="admin")

    paths = {
        "/api/v1/health": {"get": operation(
            "health", "Database, Redis, Celery workers and beat", None, HEALTH_RESPONSES, tag="system",
            security=False, description="Needs no sign-in. 200 healthy/degraded, 503 without the database.")},
        "/api/v1/openapi.json": {"get": operation(
            "openapi", "This document", ROLES_ANY,
            {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
             **errors()}, tag="system")},
        "/api/v1/dashboards/client": {"get": client_op("client_dashboard")},
        "/api/v1/dashboards/signal-sender": {"get": signal_sender_op("signal_sender_dashboard")},
        "/api/v1/dashboards/signal-sender/signals": {"get": operation(
            "signal_sender_signals", "One page of a strategy's whole signal history", ROLES_SIGNALS,
            {**ok("SignalPage", "rows [start, end) and the filtered row count", csv=True),
             **errors(400, 403, 404)},
            [STRATEGY_NAME,
             query("start", {"type": "integer", "minimum": 0, "default": 0}, "first row (0-based)"),
             query("end", {"type": "integer", "minimum": 1, "default": 100},
                   "one past the last row; at most 500 rows a page"),
             query("sort", {"type": "string", "enum": ["sent_at", "symbol", "side", "status", "quantity",
                                                      "quantity_requested"]}, "sort column (default newest first)"),
             query("dir", {"type": "string", "enum": ["asc", "desc"], "default": "asc"}, "sort direction"),
             *[query(c, {"type": "string"}, f"case-insensitive 'contains' filter on {c}")
               for c in ("reject_reason", "sent_at", "side", "status", "symbol")],
             FORMAT])},
        "/api/v1/dashboards/paper-trading": {"get": paper_op("paper_trading_dashboard")},
        "/api/v1/dashboards/paper-trading/lite": {"get": lite_op("paper_trading_lite")},
        "/api/v1/dashboards/strategy-performance": {"get": strategy_op("strategy_performance_dashboard")},
        "/api/v1/dashboards/refresh": {"post": refresh_op("refresh_dashboards")},
        "/api/v1/cache/clear": {"post": operation(
            "clear_cache", "Delete cached sections by key pattern, or invalidate one data family", ROLES_ADMIN,
            {**ok("CacheCleared", "how many keys were deleted, or the family invalidated"), **errors(400, 403)},
            [query("pattern", {"type": "string", "pattern": r"^[A-Za-z0-9_*?:.\-\[\]]{1,200}$", "default": "*"},
                   "Redis glob over `<section>:g<generation>:<arguments>`, e.g. `by_symbol:*`"),
             query("family", {"type": "string"}, "a data family (signals, executions, ...): bump its generation")],
            tag="admin")},
        **backtest_paths(),
        **ingest_paths(),
        "/metrics": {"get": operation(
            "metrics", "Prometheus metrics", ROLES_ADMIN,
            {"200": {"description": "Prometheus text exposition format",
                     "content": {"text/plain": {"schema": {"type": "string"}}}}, **errors(403)},
            tag="system", description="Requests, cache, tasks and health as Prometheus text (public when "
                                      "METRICS_PUBLIC is set).")},
        # compatibility routes of the replaced system (PUBLIC_ROUTES makes chosen ones need no sign-in)
        "/api/dashboards/client": {"get": client_op("compat_client")},
        "/api/dashboards/signal-sender": {"get": signal_sender_op("compat_signal_sender")},
        "/api/dashboards/refresh": {"post": refresh_op("compat_refresh")},
        "/health": {"get": operation("compat_health", "Health (compatibility)", ROLES_ANY,
                                     {**HEALTH_RESPONSES, **errors()}, tag="compatibility")},
        "/api/strategy/performance/": {"get": strategy_op("compat_strategy_performance")},
        "/api/public/dashboard/v2/": {"get": paper_op("compat_dashboard_v2", "PaperTradingV2", csv=False)},
        "/api/public/dashboard/lite/": {"get": lite_op("compat_dashboard_lite")},
        "/api/public/dashboard/clear-cache/": {"post": operation(
            "compat_clear_cache", "Invalidate the paper-trading sections", ROLES_ADMIN,
            {"200": {"description": "done", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"success": {"type": "boolean"}, "message": {"type": "string"}},
                "required": ["success", "message"], "additionalProperties": False}}}}, **errors(403)},
            tag="compatibility")},
        "/api/dashboard": {"get": paper_op("compat_aggregated", "AggregatedDashboard", csv=False)},
    }
    for path, item in paths.items():
        if not path.startswith("/api/v1") and path != "/metrics":
            for op in item.values():
                op["tags"] = ["compatibility"]
    return paths


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    from app.health import version

    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {"title": "tradeboard API", "version": version(),
                 "description": "The dashboards as JSON. Errors are always `{\"error\": {\"code\", \"message\", "
                                "\"details\"}}`. Sign in (session cookie) or send `Authorization: Bearer <token>` "
                                "(`tradeboard create-token`)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "tags": [{"name": t} for t in ("dashboards", "backtests", "playback", "ingest", "admin", "system",
                                                     "compatibility")],
        "paths": _paths(),
        "components": {
            "schemas": {**COMPONENTS, **ingest_schemas()},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (tb_...)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "tradeboard_session"},
            },
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy)."""
    return copy.deepcopy(_document())


@blueprint.get("/api/v1/openapi.json")
def openapi_json():
    from app.auth import json_error, json_response

    if flask.g.get("user") is None:  # the guard already refuses; kept for PUBLIC-less safety
        return json_error(401, "unauthorized", "Sign in or send a bearer token.")
    return json_response(_document(), headers={"Cache-Control": "private, max-age=300"})


DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tradeboard API</title>
<link rel="stylesheet" href="/assets/{ui}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-url="/api/v1/openapi.json"></div>
<script src="/assets/{ui}/swagger-ui-bundle.js"></script>
<script src="/assets/{ui}/tradeboard-init.js"></script>
</body>
</html>
"""


@blueprint.get("/api/docs")
def docs():
    response = flask.Response(DOCS_PAGE.format(ui=SWAGGER_UI), mimetype="text/html")
    response.headers["Cache-Control"] = "no-cache"
    return response
