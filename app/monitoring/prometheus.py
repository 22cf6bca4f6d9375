"""The Prometheus collector behind ``GET /metrics``: the shared figures, read from Redis at scrape time."""

from __future__ import annotations

from app.monitoring.figures import family_stats, request_stats
from app.monitoring.keys import QUANTILES, REDIS_TIMEOUT
from app.monitoring.schedule import scheduled_tasks
from data_access.cache import sections


class OpsCollector:
    """Prometheus collector reading the shared figures from Redis at scrape time."""

    def __init__(self, app_state) -> None:
        self.app_state = app_state

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        settings = self.app_state.settings
        health, _ = self.app_state.health()
        client = self.app_state.redis(REDIS_TIMEOUT)
        up = GaugeMetricFamily("tradeboard_up", "1 when the component answers its health check", labels=["component"])
        for component in ("database", "redis"):
            up.add_metric([component], 1.0 if health[component]["ok"] else 0.0)
        yield up
        yield GaugeMetricFamily("tradeboard_workers", "Celery workers with a live heartbeat",
                                value=health["workers"].get("count", 0))
        beat = health.get("beat") or {}
        if beat.get("last_seen"):
            yield GaugeMetricFamily("tradeboard_beat_last_seen_timestamp_seconds",
                                    "Unix time Celery beat last proved alive", value=beat["last_seen"])
        yield GaugeMetricFamily("tradeboard_cache_degraded", "1 while this process serves sections from the database",
                                value=1.0 if sections.status()["degraded"] else 0.0)
        if client is None or not health["redis"]["ok"]:
            return
        yield from self._requests(client, settings.MONITOR_WINDOW_SECONDS, CounterMetricFamily, GaugeMetricFamily)
        yield from self._families(client, CounterMetricFamily, GaugeMetricFamily)
        yield from self._tasks(settings, CounterMetricFamily, GaugeMetricFamily)

    def _requests(self, client, window, Counter, Gauge):
        rows = request_stats(client, window)
        total = Counter("tradeboard_http_requests", "Requests since the figures began", labels=["endpoint"])
        errors = Counter("tradeboard_http_errors", "Error responses (class 5xx or 4xx)", labels=["endpoint", "class"])
        slow = Counter("tradeboard_http_slow_requests", "Requests slower than SLOW_REQUEST_SECONDS", labels=["endpoint"])
        seconds = Counter("tradeboard_http_request_seconds", "Seconds spent answering", labels=["endpoint"])
        latency = Gauge("tradeboard_http_request_duration_seconds",
                        f"Request duration percentiles over the last {window} s", labels=["endpoint", "quantile"])
        in_window = Gauge("tradeboard_http_window_requests", f"Requests in the last {window} s", labels=["endpoint"])
        window_errors = Gauge("tradeboard_http_window_errors", f"5xx responses in the last {window} s",
                              labels=["endpoint"])
        window_slow = Gauge("tradeboard_http_window_slow_requests", f"Slow requests in the last {window} s",
                            labels=["endpoint"])
        for row in rows:
            endpoint = row["endpoint"]
            total.add_metric([endpoint], row["total_count"])
            errors.add_metric([endpoint, "5xx"], row["total_errors"])
            errors.add_metric([endpoint, "4xx"], row["total_client_errors"])
            slow.add_metric([endpoint], row["total_slow"])
            seconds.add_metric([endpoint], row["total_seconds"])
            in_window.add_metric([endpoint], row["count"])
            window_errors.add_metric([endpoint], row["errors"])
            window_slow.add_metric([endpoint], row["slow"])
            for q in QUANTILES:
                value = row[f"p{round(q * 100)}_seconds"]
                if value is not None:
                    latency.add_metric([endpoint, f"{q:g}"], value)
        yield from (total, errors, slow, seconds, latency, in_window, window_errors, window_slow)

    def _families(self, client, Counter, Gauge):
        rows = family_stats(client)
        hits = Counter("tradeboard_cache_hits", "Section cache hits per data family", labels=["family"])
        misses = Counter("tradeboard_cache_misses", "Section cache misses per data family", labels=["family"])
        rate = Gauge("tradeboard_cache_hit_ratio", "Hits / reads per data family", labels=["family"])
        for row in rows:
            hits.add_metric([row["family"]], row["hits"])
            misses.add_metric([row["family"]], row["misses"])
            if row["hit_rate"] is not None:
                rate.add_metric([row["family"]], row["hit_rate"])
        yield from (hits, misses, rate)

    def _tasks(self, settings, Counter, Gauge):
        rows = scheduled_tasks(settings)
        runs = Counter("tradeboard_task_runs", "Successful task runs", labels=["task"])
        failures = Counter("tradeboard_task_failures", "Failed task runs (retries exhausted)", labels=["task"])
        retries = Counter("tradeboard_task_retries", "Task retries", labels=["task"])
        duration = Gauge("tradeboard_task_last_duration_seconds", "Duration of the task's last run", labels=["task"])
        success = Gauge("tradeboard_task_last_success_timestamp_seconds", "Unix time of the last success",
                        labels=["task"])
        next_run = Gauge("tradeboard_task_next_run_timestamp_seconds", "Estimated unix time of the next run",
                         labels=["task"])
        seen = set()
        for row in rows:
            task = row["task"]
            if task in seen:
                continue
            seen.add(task)
            runs.add_metric([task], row.get("runs", 0))
            failures.add_metric([task], row.get("failures", 0))
            retries.add_metric([task], row.get("retries", 0))
            if row.get("last_duration_ms") is not None:
                duration.add_metric([task], row["last_duration_ms"] / 1000.0)
            if row.get("last_success"):
                success.add_metric([task], row["last_success"])
            if row.get("next_run"):
                next_run.add_metric([task], row["next_run"])
        yield from (runs, failures, retries, duration, success, next_run)
