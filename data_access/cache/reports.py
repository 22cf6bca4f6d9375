"""Cache reports: which sections one request (or one document) read, hit or missed, and how old the
oldest was. Reads made while computing another section are that section's inputs and are left out."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from data_access.cache.values import Cached


@dataclass
class CacheReport:
    """What the sections read during one request: hit/miss names, the oldest value, degraded mode."""

    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    degraded: bool = False
    oldest: dt.datetime | None = None
    # the report this one is nested in (a document inside a monitored request): it sees every read too
    parent: CacheReport | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, name: str, result: Cached, degraded: bool) -> None:
        with self._lock:  # sections of one document may be read in parallel
            (self.hits if result.cached else self.misses).append(name)
            self.degraded = self.degraded or degraded
            if self.oldest is None or result.computed_at < self.oldest:
                self.oldest = result.computed_at
        if self.parent is not None:
            self.parent.record(name, result, degraded)


_report: ContextVar[CacheReport | None] = ContextVar("tradeboard_cache_report", default=None)


def current_report() -> CacheReport | None:
    """The report the current context records into (None outside one, or inside a section's computation)."""
    return _report.get()


@contextmanager
def cache_report() -> Iterator[CacheReport]:
    """Collect every section read inside the block (for a response's ``metadata``). A report opened
    inside another one (a document built during a monitored request) also records into the outer one."""
    report = CacheReport(parent=_report.get())
    token = _report.set(report)
    try:
        yield report
    finally:
        _report.reset(token)


@contextmanager
def not_reported() -> Iterator[None]:
    """Section reads inside the block are inputs of something else, not a response's sections."""
    token = _report.set(None)
    try:
        yield
    finally:
        _report.reset(token)


def unreported(compute: Callable[[], Any]) -> Callable[[], Any]:
    """Sections read while computing another section are its inputs, not the response's sections."""

    def run() -> Any:
        token = _report.set(None)
        try:
            return compute()
        finally:
            _report.reset(token)

    return run
