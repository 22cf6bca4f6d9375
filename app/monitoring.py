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
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import os
import queue
import re
import threading
import time
import weakref
from typing import Any

import flask
import redis

from data_access.cache import cache_report, sections

log = logging.getLogger(__name__)

KEY = "tb:mon:"
ENDPOINTS_KEY = f"{KEY}endpoints"
SAMPLES_KEY = f"{KEY}lat:"
BUCKETS_KEY = f"{KEY}win:"
TOTALS_KEY = f"{KEY}tot:"
BUCKET_SECONDS = 10
SAMPLE_CAP = 5000  # latest requests kept per endpoint for the percentiles
QUANTILES = (0.5, 0.95, 0.99)
SKIP_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico", "/favicon.ico", "/_reload-hash")
LINGER_SECONDS = 0.05  # the writer waits this long after a first timing to batch the ones that follow
MAX_PENDING = 10_000  # timings waiting for the writer; past this they are dropped, never blocking a request
REDIS_TIMEOUT = 0.5
ENDPOINT_ENVIRON_KEY = "tradeboard.endpoint"
MAX_ENDPOINT_LENGTH = 120
SQL_LOG_CHARS = 1000
EXTENSION_KEY = "tradeboard.monitor"
COUNT_FIELDS = ("count", "errors", "client_errors", "slow")


# --------------------------------------------------------------------------- endpoint names


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


def _remember_endpoint(response: flask.Response) -> flask.Response:
    """after_request: name the endpoint while the request is still at hand (runs for error pages too)."""
    try:
        flask.request.environ[ENDPOINT_ENVIRON_KEY] = endpoint_name(flask.request)
    except Exception:  # noqa: BLE001 - naming must never break a response
        log.debug("could not name the endpoint", exc_info=True)
    return response


# --------------------------------------------------------------------------- the writer


class _Writer:
    """One daemon thread per process that writes timings to Redis in batches (restarted after a fork)."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._queue: queue.Queue | None = None
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._failing = False
        self.last_client: redis.Redis | None = None

    def _ensure(self) -> queue.Queue:
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._queue = queue.Queue(MAX_PENDING)
                    threading.Thread(target=self._run, args=(self._queue,), name="tb-monitor", daemon=True).start()
                    self._pid = pid
        return self._queue  # type: ignore[return-value]

    def submit(self, item: tuple) -> None:
        try:
            self._ensure().put_nowait(item)
        except queue.Full:
            pass  # losing a timing beats slowing a request

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every timing submitted so far is written (for tests and readers in this process)."""
        done = threading.Event()
        try:
            self._ensure().put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def _run(self, pending: queue.Queue) -> None:
        while True:
            batch = [pending.get()]
            if not isinstance(batch[0], threading.Event):
                time.sleep(LINGER_SECONDS)
            while len(batch) < MAX_PENDING:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            timings = [item for item in batch if not isinstance(item, threading.Event)]
            try:
                self._write(timings)
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure
                if not self._failing:
                    log.warning("monitoring: cannot write request timings to Redis: %s", exc)
                self._failing = True
            else:
                if self._failing:
                    log.info("monitoring: writing request timings again")
                self._failing = False
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()

    def _write(self, timings: list[tuple]) -> None:
        by_client: dict[int, tuple[redis.Redis, list[tuple]]] = {}
        for item in timings:
            by_client.setdefault(id(item[0]), (item[0], []))[1].append(item)
        if timings:
            self.last_client = timings[-1][0]
        family_reads = sections.drain_family_reads()
        if not by_client and family_reads and self.last_client is not None:
            by_client[id(self.last_client)] = (self.last_client, [])
        for client, items in by_client.values():
            pipe = client.pipeline(transaction=False)
            self._queue_timings(pipe, items)
            if family_reads:
                sections.add_family_reads(pipe, family_reads)
                family_reads = {}
            pipe.execute()

    def _queue_timings(self, pipe, items: list[tuple]) -> None:
        pid = os.getpid()
        samples: dict[str, dict[str, float]] = {}
        totals: dict[str, dict[str, float]] = {}
        buckets: dict[tuple[str, int], dict[str, int]] = {}
        windows: dict[str, int] = {}
        for _client, endpoint, at, seconds, status, slow, window in items:
            samples.setdefault(endpoint, {})[f"{seconds:.6f}:{pid}.{next(self._seq)}"] = at
            windows[endpoint] = max(window, windows.get(endpoint, 0))
            counts = {"count": 1, "errors": int(status >= 500), "client_errors": int(400 <= status < 500),
                      "slow": int(slow)}
            total = totals.setdefault(endpoint, {"seconds": 0.0})
            bucket = buckets.setdefault((endpoint, int(at // BUCKET_SECONDS)), {})
            total["seconds"] += seconds
            for name, n in counts.items():
                if n:
                    total[name] = total.get(name, 0) + n
                    bucket[name] = bucket.get(name, 0) + n
        now = time.time()
        for endpoint, members in samples.items():
            key = SAMPLES_KEY + endpoint
            pipe.zadd(key, members)
            pipe.zremrangebyscore(key, "-inf", now - windows[endpoint])
            pipe.zremrangebyrank(key, 0, -SAMPLE_CAP - 1)
            pipe.expire(key, windows[endpoint] + BUCKET_SECONDS)
        for endpoint, total in totals.items():
            for name, n in total.items():
                if name == "seconds":
                    pipe.hincrbyfloat(TOTALS_KEY + endpoint, name, round(n, 6))
                else:
                    pipe.hincrby(TOTALS_KEY + endpoint, name, int(n))
        for (endpoint, bucket), counts in buckets.items():
            key = f"{BUCKETS_KEY}{endpoint}:{bucket}"
            for name, n in counts.items():
                pipe.hincrby(key, name, n)
            pipe.expire(key, windows[endpoint] + 2 * BUCKET_SECONDS)
        if samples:
            pipe.sadd(ENDPOINTS_KEY, *samples)


_writer = _Writer()


def flush(timeout: float = 5.0) -> bool:
    """Write every timing of this process now (tests; a reader that must see its own requests)."""
    return _writer.flush(timeout)


# --------------------------------------------------------------------------- timing requests


class Monitor:
    """One app's monitoring: its thresholds and its Redis client."""

    def __init__(self, app_state) -> None:
        self.app_state = app_state
        self.settings = app_state.settings

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


# --------------------------------------------------------------------------- slow SQL

_sql_thresholds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SQL_STARTED = "_tb_sql_started"


def watch_sql(engine, threshold_seconds: float) -> None:
    """Log every statement on ``engine`` slower than ``threshold_seconds`` (listeners added once per engine)."""
    from sqlalchemy import event

    first = engine not in _sql_thresholds
    _sql_thresholds[engine] = threshold_seconds
    if first:
        event.listen(engine, "before_cursor_execute", _before_sql)
        event.listen(engine, "after_cursor_execute", _after_sql)


def _before_sql(conn, cursor, statement, parameters, context, executemany) -> None:
    if context is not None:
        setattr(context, _SQL_STARTED, time.perf_counter())


def _after_sql(conn, cursor, statement, parameters, context, executemany) -> None:
    started = getattr(context, _SQL_STARTED, None) if context is not None else None
    if started is None:
        return
    seconds = time.perf_counter() - started
    threshold = _sql_thresholds.get(conn.engine)
    if threshold is not None and seconds > threshold:
        text = re.sub(r"\s+", " ", statement).strip()
        if len(text) > SQL_LOG_CHARS:
            text = text[:SQL_LOG_CHARS] + f"… ({len(statement)} chars)"
        log.warning("slow SQL: %.3f s: %s", seconds, text)


# --------------------------------------------------------------------------- reading the figures


def _quantile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ordered list (None when empty)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def request_stats(client: redis.Redis, window: int, now: float | None = None) -> list[dict[str, Any]]:
    """Per endpoint: over the window ``count``, ``errors`` (5xx), ``client_errors`` (4xx), ``slow``,
    ``p50/p95/p99_seconds`` (of the latest SAMPLE_CAP requests in it); since the start ``total_*``."""
    now = time.time() if now is None else now
    endpoints = sorted(m.decode() for m in client.smembers(ENDPOINTS_KEY))
    if not endpoints:
        return []
    buckets = range(int((now - window) // BUCKET_SECONDS) + 1, int(now // BUCKET_SECONDS) + 1)
    pipe = client.pipeline(transaction=False)
    for endpoint in endpoints:
        pipe.zrangebyscore(SAMPLES_KEY + endpoint, now - window, "+inf")
        pipe.hgetall(TOTALS_KEY + endpoint)
        for bucket in buckets:
            pipe.hgetall(f"{BUCKETS_KEY}{endpoint}:{bucket}")
    replies = iter(pipe.execute())
    rows = []
    for endpoint in endpoints:
        durations = sorted(float(m.split(b":", 1)[0]) for m in next(replies))
        totals = {k.decode(): float(v) for k, v in next(replies).items()}
        counts = dict.fromkeys(COUNT_FIELDS, 0)
        for _ in buckets:
            for name, value in next(replies).items():
                counts[name.decode()] = counts.get(name.decode(), 0) + int(value)
        row: dict[str, Any] = {"endpoint": endpoint, **counts, "samples": len(durations)}
        for q in QUANTILES:
            row[f"p{round(q * 100)}_seconds"] = _quantile(durations, q)
        row["max_seconds"] = durations[-1] if durations else None
        for name in COUNT_FIELDS:
            row[f"total_{name}"] = int(totals.get(name, 0))
        row["total_seconds"] = round(totals.get("seconds", 0.0), 6)
        rows.append(row)
    return rows


def family_stats(client: redis.Redis) -> list[dict[str, Any]]:
    """Per data family: cache hits, misses and hit rate (0..1, None before any read), every process's."""
    flush_family_reads(client)
    stats = sections.family_stats(client)
    rows = []
    for family in sorted(set(stats) | sections.families):
        hits, misses = stats.get(family, {}).get("hits", 0), stats.get(family, {}).get("misses", 0)
        rows.append({"family": family, "hits": hits, "misses": misses,
                     "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None})
    return rows


def flush_family_reads(client: redis.Redis) -> None:
    """Write this process's pending per-family counts now (a reader should see its own process's reads)."""
    counts = sections.drain_family_reads()
    if counts:
        pipe = client.pipeline(transaction=False)
        sections.add_family_reads(pipe, counts)
        pipe.execute()


def cache_keys(client: redis.Redis, limit: int = 500) -> dict[str, Any]:
    """Up to ``limit`` cached sections: section, families, arguments, age and TTL left.

    A section's value is stored for two TTLs of its tier, so its age is ``2 * ttl - ttl left``
    (no value is read: one PTTL and STRLEN per key); fresh while more than one TTL is left.
    ``current`` is false when a family was bumped since (the key will never be read again).
    """
    from data_access.cache import KEY_PREFIX

    keys = []
    for key in client.scan_iter(match=f"{KEY_PREFIX}s:*", count=500):
        keys.append(key)
        if len(keys) >= limit:
            break
    generation_keys = sorted({f"{KEY_PREFIX}gen:{f}" for f in sections.families})
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.pttl(key)
        pipe.strlen(key)
    pipe.mget(generation_keys) if generation_keys else None
    replies = pipe.execute()
    generations = {}
    if generation_keys:
        generations = {k[len(KEY_PREFIX) + 4:]: int(v or 0) for k, v in zip(generation_keys, replies[-1])}
    rows = []
    for index, raw in enumerate(keys):
        pttl, size = replies[2 * index], replies[2 * index + 1]
        if pttl is None or pttl < 0:
            continue  # gone between SCAN and PTTL
        text = raw.decode(errors="replace")[len(KEY_PREFIX) + 2:]
        name, _, rest = text.partition(":")
        gen_part, _, args = rest.partition(":")
        families, tier = sections.section_info.get(name, ((), None))
        ttl = sections.ttl.get(tier) if tier else None
        left = pttl / 1000.0
        key_generations = gen_part[1:].split(".") if gen_part.startswith("g") else []
        current = all(str(generations.get(f, 0)) == g for f, g in zip(families, key_generations))
        rows.append({
            "key": text, "section": name, "family": ", ".join(families) or "?", "tier": tier, "args": args,
            "age_seconds": round(2 * ttl - left, 1) if ttl else None,
            "ttl_left_seconds": round(left, 1),
            "fresh": (left > ttl) if ttl else None, "current": current, "bytes": int(size or 0),
        })
    rows.sort(key=lambda r: (r["section"], r["args"]))
    return {"keys": rows, "truncated": len(keys) >= limit, "limit": limit, "generations": generations}


def _schedule_celery(timezone: str):
    from celery import Celery

    app = Celery("tradeboard-schedule", set_as_current=False)
    app.conf.timezone = timezone
    app.conf.enable_utc = True
    return app


def scheduled_tasks(settings) -> list[dict[str, Any]]:
    """Every beat entry with its task's record (runs, failures, last start/status/duration/error),
    its last success and its next run, estimated from the last start and the schedule."""
    from celery.schedules import crontab

    import tasks
    from data_access import task_runs

    try:
        schedule = tasks.beat_schedule(settings)
    except Exception:  # noqa: BLE001 - settings the schedule cannot parse: show the defaults
        schedule = tasks.BEAT_SCHEDULE
    names = sorted({entry["task"] for entry in schedule.values()} | set(task_runs.known_tasks()))
    stats = task_runs.task_stats(names)
    successes = _last_successes()
    celery_for_tz = None
    now = time.time()
    rows = []
    for entry_name, entry in schedule.items():
        task = entry["task"]
        info = stats.get(task, {})
        every, next_run = entry["schedule"], None
        last = info.get("last_start")
        if isinstance(every, (int, float)):
            described = _every(float(every))
            next_run = (last + float(every)) if last else None
        elif isinstance(every, crontab):
            described = f"cron {every._orig_minute} {every._orig_hour} {every._orig_day_of_month} " \
                        f"{every._orig_month_of_year} {every._orig_day_of_week} ({settings.SCHEDULE_TIMEZONE})"
            try:
                celery_for_tz = celery_for_tz or _schedule_celery(settings.SCHEDULE_TIMEZONE)
                copy = crontab(minute=every._orig_minute, hour=every._orig_hour,
                               day_of_week=every._orig_day_of_week, day_of_month=every._orig_day_of_month,
                               month_of_year=every._orig_month_of_year, app=celery_for_tz)
                since = dt.datetime.fromtimestamp(last or now, dt.UTC)
                next_run = now + copy.remaining_estimate(since).total_seconds()
            except Exception:  # noqa: BLE001
                log.debug("cannot estimate the next run of %s", entry_name, exc_info=True)
        else:
            described = str(every)
        rows.append({"entry": entry_name, "task": task, "schedule": described, **info,
                     "last_success": successes.get(task) if info.get("last_status") != "success"
                     else info.get("last_end"),
                     "next_run": next_run})
    scheduled = {entry["task"] for entry in schedule.values()}
    for task in names:  # tasks with records that beat does not schedule (queued by hand or by the API)
        if task not in scheduled:
            rows.append({"entry": None, "task": task, "schedule": "on demand", **stats[task],
                         "last_success": successes.get(task), "next_run": None})
    return rows


def _last_successes() -> dict[str, float]:
    from data_access import task_runs

    out: dict[str, float] = {}
    for run in task_runs.recent_runs(task_runs.RECENT):
        if run.get("status") == "success" and run.get("task") not in out:
            out[run["task"]] = run.get("finished")
    return out


def _every(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"every {seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"every {seconds / 60:g} min"
    return f"every {seconds:g} s"


def snapshot(app_state, *, key_limit: int = 500, run_limit: int = 50) -> dict[str, Any]:
    """Everything /ops shows, JSON-ready: health, request figures, hit rates, keys, tasks."""
    from data_access import task_runs

    settings = app_state.settings
    health, _status = app_state.health()
    client = app_state.redis(REDIS_TIMEOUT)
    out: dict[str, Any] = {"health": health, "cache": sections.status(), "window_seconds": settings.MONITOR_WINDOW_SECONDS,
                           "slow_request_seconds": settings.SLOW_REQUEST_SECONDS, "families": sorted(sections.families),
                           "requests": [], "family_stats": [], "cache_keys": {"keys": [], "truncated": False,
                                                                              "limit": key_limit, "generations": {}},
                           "tasks": [], "recent_runs": [], "errors": {}}
    if client is not None and health["redis"]["ok"]:
        for name, read in (("requests", lambda: request_stats(client, settings.MONITOR_WINDOW_SECONDS)),
                           ("family_stats", lambda: family_stats(client)),
                           ("cache_keys", lambda: cache_keys(client, key_limit)),
                           ("tasks", lambda: scheduled_tasks(settings)),
                           ("recent_runs", lambda: task_runs.recent_runs(run_limit))):
            try:
                out[name] = read()
            except Exception as exc:  # noqa: BLE001 - one panel's failure must not take the page down
                out["errors"][name] = f"{type(exc).__name__}: {exc}"
    else:
        out["errors"]["redis"] = "Redis is unavailable: no request figures, hit rates, keys or task runs"
    out["timestamp"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return out


# --------------------------------------------------------------------------- /metrics


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


def _metrics_gate():
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


def init_app(server: flask.Flask) -> None:
    from prometheus_client import CollectorRegistry

    from app.extensions import state

    app_state = state(server)
    monitor = Monitor(app_state)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OpsCollector(app_state))
    server.extensions[EXTENSION_KEY] = {"monitor": monitor, "registry": registry}
    server.register_blueprint(bp)
    server.before_request_funcs.setdefault(None, []).insert(0, _metrics_gate)
    server.after_request(_remember_endpoint)
    server.wsgi_app = TimedApp(server.wsgi_app, monitor)
    watch_sql(app_state.engine, app_state.settings.SLOW_SQL_SECONDS)
