"""The replaced system's routes, with its exact paths and shapes, answering the same data as their
``/api/v1`` counterparts (the same functions and caches). Which of them need no sign-in is the
``PUBLIC_ROUTES`` setting (comma-separated paths; empty by default): a public route is answered
without a user, any other needs the role its ``/api/v1`` twin needs.

| route | same as |
| --- | --- |
| GET /api/dashboards/client | /api/v1/dashboards/client |
| GET /api/dashboards/signal-sender?strategy_name= | /api/v1/dashboards/signal-sender |
| POST /api/dashboards/refresh | /api/v1/dashboards/refresh |
| GET /health | /api/v1/health |
| GET /api/strategy/performance/?time_range=&force_refresh= | /api/v1/dashboards/strategy-performance |
| GET /api/public/dashboard/v2/?refresh=&limit= | /api/v1/dashboards/paper-trading (v2 shape: + cached, cache_info) |
| GET /api/public/dashboard/lite/ | /api/v1/dashboards/paper-trading/lite |
| POST /api/public/dashboard/clear-cache/ | invalidates the paper-trading sections |
| GET /api/dashboard | the aggregated paper-trading document (positions, shadow_positions, health, exit_signals, queued_signals, source_performance, gex, pnl_curve, daily_returns, metadata, errors) |
"""

from __future__ import annotations

import functools

import flask

from app import api, dashboards_api
from app.auth import json_error, json_response
from app.extensions import state

blueprint = flask.Blueprint("compat_api", __name__)

ROUTES = {
    "/api/dashboards/client": ("admin", "analyst", "client"),
    "/api/dashboards/signal-sender": ("admin", "analyst", "developer"),
    "/api/dashboards/refresh": ("admin",),
    "/health": ("admin", "analyst", "client", "developer"),
    "/api/strategy/performance/": ("admin", "analyst", "developer"),
    "/api/public/dashboard/v2/": ("admin", "analyst"),
    "/api/public/dashboard/lite/": ("admin", "analyst"),
    "/api/public/dashboard/clear-cache/": ("admin",),
    "/api/dashboard": ("admin", "analyst"),
}


def public_routes(settings) -> frozenset[str]:
    return frozenset(p.strip() for p in (settings.PUBLIC_ROUTES or "").split(",") if p.strip())


def _is_public() -> bool:
    return flask.request.path in flask.current_app.config.get("TB_PUBLIC_ROUTES", frozenset())


def compat(view):
    """Public when listed in PUBLIC_ROUTES, else the route's roles (401 without a user, 403)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not _is_public():
            user = flask.g.get("user")
            if user is None:
                return json_error(401, "unauthorized", "Sign in or send a bearer token.",
                                  headers={"WWW-Authenticate": "Bearer"})
            roles = ROUTES[flask.request.url_rule.rule]
            if user.role not in roles:
                return json_error(403, "forbidden", f"the {user.role} role may not use this endpoint",
                                  {"allowed_roles": list(roles)})
        return view(*args, **kwargs)

    return wrapper


@blueprint.get("/api/dashboards/client")
@compat
def client():
    return dashboards_api.client.__wrapped__()


@blueprint.get("/api/dashboards/signal-sender")
@compat
def signal_sender():
    if _is_public() and flask.g.get("user") is None:  # public: any strategy, as an analyst would see it
        from data_access.signal_sender_dashboard import signal_sender_dashboard_for

        info, error = dashboards_api._readable_strategy(_PublicReader())
        time_range, force, range_error = dashboards_api.range_and_force()
        if error is not None or range_error is not None:
            return error or range_error
        return json_response(signal_sender_dashboard_for(state().settings, info["strategy_name"], time_range, force))
    return dashboards_api.signal_sender.__wrapped__()


class _PublicReader:
    role = "analyst"
    id = None


@blueprint.post("/api/dashboards/refresh")
@compat
def refresh():
    return dashboards_api.refresh_dashboards.__wrapped__()


@blueprint.get("/health")
@compat
def health():
    return api.health()


@blueprint.get("/api/strategy/performance/")
@compat
def strategy_performance():
    return dashboards_api.strategy_performance.__wrapped__()


@blueprint.get("/api/public/dashboard/v2/")
@compat
def dashboard_v2():
    """The optimized dashboard's shape: its sections plus ``cached`` and ``cache_info`` (TTL per section)."""
    response = dashboards_api.paper_trading.__wrapped__()
    if response.status_code != 200 or response.mimetype != "application/json":
        return response
    doc = response.get_json()
    settings = state().settings
    doc["cached"] = bool(doc["metadata"].get("cached"))
    doc["cache_info"] = {
        "overview_ttl": settings.CACHE_TTL_SHORT, "positions_ttl": 0, "trades_ttl": settings.CACHE_TTL_SHORT,
        "performance_ttl": settings.CACHE_TTL_MEDIUM, "top_performers_ttl": settings.CACHE_TTL_MEDIUM,
        "trading_stats_ttl": settings.CACHE_TTL_SHORT, "source_performance_ttl": settings.CACHE_TTL_MEDIUM,
        "gex_ttl": settings.CACHE_TTL_MEDIUM,
    }
    return json_response(doc)


@blueprint.get("/api/public/dashboard/lite/")
@compat
def dashboard_lite():
    return dashboards_api.paper_trading_lite.__wrapped__()


@blueprint.post("/api/public/dashboard/clear-cache/")
@compat
def clear_cache():
    from data_access.cache import sections

    sections.bump("paper", "gex")
    return json_response({"success": True, "message": "Dashboard cache cleared successfully"})


AGGREGATED = ("shadow_positions", "health", "exit_signals", "queued_signals", "source_performance", "gex", "pnl_curve",
              "daily_returns", "metadata")


@blueprint.get("/api/dashboard")
@compat
def aggregated():
    """The performance design's aggregated document: real-time and cached sections side by side."""
    response = dashboards_api.paper_trading.__wrapped__()
    if response.status_code != 200:
        return response
    doc = response.get_json()
    out = {"positions": doc["open_positions"], **{key: doc.get(key) for key in AGGREGATED}}
    if doc.get("errors"):
        out["errors"] = doc["errors"]
    return json_response(out)


def init_app(server: flask.Flask) -> None:
    server.config["TB_PUBLIC_ROUTES"] = public_routes(state(server).settings)
    unknown = server.config["TB_PUBLIC_ROUTES"] - set(ROUTES)
    if unknown:
        from app import ConfigurationError

        raise ConfigurationError(f"PUBLIC_ROUTES names routes that do not exist: {', '.join(sorted(unknown))}; "
                                 f"valid: {', '.join(ROUTES)}")
    server.register_blueprint(blueprint)
