"""Monitoring: every request timed, slow requests and slow SQL logged, the figures kept in Redis
(so every gunicorn worker shares one view), read back by ``/ops`` and by ``GET /metrics``.

Per endpoint (the Flask rule, e.g. ``/api/v1/dashboards/client``; ``dash:<first output id>`` for a
Dash callback; the page path for a Dash page), in Redis:

- ``tb:mon:lat:<endpoint>`` sorted set, one member per request (``<seconds>:<pid>.<seq>``, score =
  unix time), trimmed to ``MONITOR_WINDOW_SECONDS`` and to the latest ``SAMPLE_CAP`` requests:
  p50/p95/p99 are computed from it when read (nearest rank).
- ``tb:mon:win:<endpoint>:<bucket>`` hash per 10 s bucket (count, errors, client_errors, slow),
  expiring after the window: the windowed counts.
- ``tb:mon:tot:<endpoint>`` hash of running totals since the data was created (count, errors,
  client_errors, slow, seconds): Prometheus counters.
- ``tb:mon:endpoints`` set of endpoint names.

A request never waits for Redis: the timing is handed to one writer thread per process, which
batches whatever arrived within ``LINGER_SECONDS`` into one pipelined round trip (and with it the
section cache's per-family hit/miss counts, see `data_access.cache`). Static files (``/assets/``,
``/_dash-component-suites/``) are not timed.

A request slower than ``SLOW_REQUEST_SECONDS`` logs a warning with its endpoint, time and the
cache sections it hit and missed (every request runs inside a `cache_report`; documents' own
reports record into it). An SQL statement slower than ``SLOW_SQL_SECONDS`` logs its text and time.

``GET /metrics`` answers in Prometheus text format from these figures, read at scrape time. It
needs an admin (session or bearer token) unless ``METRICS_PUBLIC`` is true.

Where things are: `endpoints` (naming what a request asked for), `timing` (the WSGI middleware),
`writer` (the batching writer thread), `keys` (the Redis layout), `slow_sql`, `figures` (reading the
figures back), `schedule` (beat entries and their runs), `snapshot` (the /ops document),
`prometheus` (the collector) and `metrics_endpoint` (``GET /metrics``). Pages reach the snapshot
through the app's extensions (``server.extensions[EXTENSION_KEY]["monitor"].snapshot()``), never by
importing this package.
"""

from __future__ import annotations

import flask

from app.monitoring.endpoints import endpoint_name, remember_endpoint
from app.monitoring.figures import cache_keys, family_stats, flush_family_reads, request_stats
from app.monitoring.metrics_endpoint import EXTENSION_KEY, bp, metrics_gate
from app.monitoring.prometheus import OpsCollector
from app.monitoring.schedule import scheduled_tasks
from app.monitoring.slow_sql import watch_sql
from app.monitoring.snapshot import snapshot
from app.monitoring.timing import Monitor, TimedApp
from app.monitoring.writer import flush

__all__ = [
    "EXTENSION_KEY", "Monitor", "OpsCollector", "TimedApp", "bp", "cache_keys", "endpoint_name", "family_stats",
    "flush", "flush_family_reads", "init_app", "request_stats", "scheduled_tasks", "snapshot", "watch_sql",
]


def init_app(server: flask.Flask) -> None:
    from prometheus_client import CollectorRegistry

    from app.extensions import state

    app_state = state(server)
    monitor = Monitor(app_state)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OpsCollector(app_state))
    server.extensions[EXTENSION_KEY] = {"monitor": monitor, "registry": registry}
    server.register_blueprint(bp)
    server.before_request_funcs.setdefault(None, []).insert(0, metrics_gate)
    server.after_request(remember_endpoint)
    server.wsgi_app = TimedApp(server.wsgi_app, monitor)
    watch_sql(app_state.engine, app_state.settings.SLOW_SQL_SECONDS)
