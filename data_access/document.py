"""Building a dashboard document from cached sections: each section is read once, a failing
section becomes an entry in ``errors`` (the others still render), and the document carries each
section's freshness and the request's cache ``metadata``."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import time
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from data_access.cache import Cached, cache_report, sections
from data_access.change_stamps import one_stamp_per_build, paper_stamp
from data_access.db import current_engine
from data_access.fresh_rounds import fresh_value
from data_access.prices import one_quote_per_symbol
from data_access.thread_pools import HealthyPool

MAX_PARALLEL_SECTIONS = 8
SECTION_TIMEOUT_SECONDS = 60.0
section_pool = HealthyPool(MAX_PARALLEL_SECTIONS, "sections")


class SectionReader:
    """``with SectionReader(force) as reader: value = reader.read("panel", fn, *args)``."""

    def __init__(self, force: bool = False) -> None:
        self.force = force
        self.errors: dict[str, str] = {}
        self.partial: set[str] = set()  # sections with a value despite their error (e.g. some symbols unpriced)
        self.freshness: dict[str, dict[str, Any]] = {}
        self._started = time.perf_counter()
        self._contexts = contextlib.ExitStack()

    def __enter__(self) -> SectionReader:
        self.report = self._contexts.enter_context(cache_report())
        self._contexts.enter_context(one_quote_per_symbol())  # every section marks a symbol at one quote
        self._contexts.enter_context(one_stamp_per_build())  # and reads the paper tables' change counter once
        return self

    def __exit__(self, *exc_info) -> None:
        self._contexts.__exit__(*exc_info)

    def read(self, section: str, fn, *args) -> Any:
        """The section's value, or None with its error recorded (one panel's failure must not take
        the page down)."""
        try:
            if hasattr(fn, "fetch"):
                result = fn.fetch(*args, force=self.force)
            else:  # a real-time section: never cached; computed after this request arrived (data_access.fresh_rounds),
                # in a round of requests that read the same change counter: the round's computation reuses rows
                # by its leader's counter, which must be no older than any member's
                value, computed_at = fresh_value(fn, *args, round_of=paper_stamp())
                result = Cached(value, computed_at, cached=False)
        except Exception as exc:
            self.errors[section] = f"{type(exc).__name__}: {exc}"
            return None
        return self._accept(section, result)

    def _accept(self, section: str, result: Cached) -> Any:
        self.freshness[section] = {"computed_at": result.computed_at.isoformat(), "cached": result.cached,
                                   "stale": result.stale, "fresh_for_seconds": result.fresh_for_seconds,
                                   "ttl_seconds": result.ttl}
        return result.value

    def read_parallel(self, jobs: dict[str, tuple], overlap: bool = True) -> dict[str, Any]:
        """``{section: (fn, *args)}`` read concurrently; ``{section: value or None}`` like ``read``.

        The cached sections come first, all in one Redis round trip on this thread: fresh values, and
        stale ones served while they are refreshed in the background (``SectionCache.fresh_hits``).
        Cache misses go to the pool, where their statements overlap. The real-time sections run
        meanwhile on this thread, one after the other, where the paper tables' change counter is
        kept (data_access/change_stamps.py): they mostly reuse their rows, and on SQLite a statement
        never waits on a network and its Python work holds the GIL anyway. Handing them to threads
        cost more than it saved (paper trading, `large`, warm: SQLite 7.3 ms CPU and 6.9 ms wall
        per document on the pool, 5.6 and 5.8 on this thread, under load 315 -> 345 req/s, p99
        686 -> 412 ms, bench/load.py; PostgreSQL 5.6-5.8 ms on the pool, 3.1-3.3 ms on this thread,
        bench/paper_trading_dashboard.py). Without a counter they go to the pool.
        ``overlap=False``: everything is read one after the other, in order (for sections that are
        each other's inputs, so a cold build computes each once and reports it as the miss it was)."""
        values: dict[str, Any] = {}
        if not self.force:
            cacheable = {section: (job[0], job[1:]) for section, job in jobs.items() if hasattr(job[0], "fetch")}
            for section, result in sections.fresh_hits(cacheable).items():
                values[section] = self._accept(section, result)
        rest = {section: job for section, job in jobs.items() if section not in values}
        real_time = any(not hasattr(job[0], "fetch") for job in rest.values())
        inline_real_time = real_time and (current_engine().dialect.name == "sqlite" or paper_stamp() is not None)
        pooled = {section: job for section, job in rest.items() if hasattr(job[0], "fetch") or not inline_real_time}
        if len(pooled) < 2 or not overlap:
            pooled = {}
        pool = section_pool.get() if pooled else None
        futures = {section: pool.submit(contextvars.copy_context().run, self.read, section, job[0], *job[1:])
                   for section, job in pooled.items()}
        for section, job in rest.items():
            if section not in pooled:
                values[section] = self.read(section, job[0], *job[1:])
        for section, future in futures.items():
            try:
                values[section] = future.result(timeout=SECTION_TIMEOUT_SECONDS)
            except FuturesTimeout:  # its thread died or hung: the section fails, the document answers
                self.errors[section] = f"timed out after {SECTION_TIMEOUT_SECONDS:g} s"
                values[section] = None
        return {section: values[section] for section in jobs}

    def note_error(self, section: str, message: str | None) -> None:
        """Record a partial failure of a section that still has a value (e.g. some symbols unpriced)."""
        if message:
            self.errors[section] = message
            self.partial.add(section)

    def finish(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Add ``sections``, ``errors`` (only when a section failed) and ``metadata`` to ``doc``."""
        report = self.report
        doc["sections"] = self.freshness
        if self.errors:
            doc["errors"] = self.errors
        doc["metadata"] = {
            "response_time_ms": round((time.perf_counter() - self._started) * 1000.0, 2),
            "cache_hits": report.hits,
            "cache_misses": report.misses,
            "computed_at": report.oldest.isoformat() if report.oldest else None,
            "cached": not report.misses and bool(report.hits),
            "degraded": report.degraded,
            "timestamp": utc_now_iso(),
        }
        if self.partial:
            doc["metadata"]["partial_sections"] = sorted(self.partial)
        return doc


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
