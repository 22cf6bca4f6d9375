"""The writer: one daemon thread per process hands request timings (and the section cache's per-family
hit/miss counts) to Redis in batches, so a request never waits for Redis."""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time

import redis

from app.monitoring.keys import BUCKET_SECONDS, BUCKETS_KEY, ENDPOINTS_KEY, SAMPLE_CAP, SAMPLES_KEY, TOTALS_KEY
from data_access.cache import sections

log = logging.getLogger(__name__)

LINGER_SECONDS = 0.05  # the writer waits this long after a first timing to batch the ones that follow
MAX_PENDING = 10_000  # timings waiting for the writer; past this they are dropped, never blocking a request


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
