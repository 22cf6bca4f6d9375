"""Timing requests: WSGI middleware around the whole request (authentication included), a warning for
a slow one, its timing handed to the writer."""

from __future__ import annotations

import logging
import time

import redis

from app.monitoring.endpoints import ENDPOINT_ENVIRON_KEY, MAX_ENDPOINT_LENGTH
from app.monitoring.keys import REDIS_TIMEOUT
from app.monitoring.snapshot import snapshot
from app.monitoring.writer import _writer
from data_access.cache import cache_report

log = logging.getLogger(__name__)

SKIP_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico", "/favicon.ico", "/_reload-hash")


class Monitor:
    """One app's monitoring: its thresholds, its Redis client and its /ops snapshot."""

    def __init__(self, app_state) -> None:
        self.app_state = app_state
        self.settings = app_state.settings

    def snapshot(self, **limits) -> dict:
        """Everything /ops shows (see `app.monitoring.snapshot`): the ops page reads it through here."""
        return snapshot(self.app_state, **limits)

    @property
    def client(self) -> redis.Redis | None:
        return self.app_state.redis(REDIS_TIMEOUT)

    def finish(self, environ: dict, status: int, seconds: float, at: float, report) -> None:
        endpoint = environ.get(ENDPOINT_ENVIRON_KEY) or environ.get("PATH_INFO", "?")[:MAX_ENDPOINT_LENGTH]
        slow = seconds > self.settings.SLOW_REQUEST_SECONDS
        if slow:
            log.warning("slow request: %s %s took %.3f s (status %d); cache hits %d %s, misses %d %s",
                        environ.get("REQUEST_METHOD", "GET"), endpoint, seconds, status,
                        len(report.hits), report.hits[:20], len(report.misses), report.misses[:20])
        client = self.client
        if client is not None:
            _writer.submit((client, endpoint, at, seconds, status, slow, int(self.settings.MONITOR_WINDOW_SECONDS)))


class TimedApp:
    """WSGI middleware around the Flask app: times the whole request (authentication included)."""

    def __init__(self, wsgi_app, monitor: Monitor) -> None:
        self.wsgi_app = wsgi_app
        self.monitor = monitor

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(SKIP_PREFIXES):
            return self.wsgi_app(environ, start_response)
        status = [500]  # an exception escaping the app is a server error

        def timed_start_response(status_line, headers, exc_info=None):
            status[0] = int(status_line[:3])
            return start_response(status_line, headers, exc_info)

        at = time.time()
        started = time.perf_counter()
        with cache_report() as report:
            try:
                return self.wsgi_app(environ, timed_start_response)
            finally:
                self.monitor.finish(environ, status[0], time.perf_counter() - started, at, report)
