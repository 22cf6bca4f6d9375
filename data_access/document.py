"""Building a dashboard document from cached sections: each section is read once, a failing
section becomes an entry in ``errors`` (the others still render), and the document carries each
section's freshness and the request's cache ``metadata``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from data_access.cache import cache_report


class SectionReader:
    """``with SectionReader(force) as reader: value = reader.read("panel", fn, *args)``."""

    def __init__(self, force: bool = False) -> None:
        self.force = force
        self.errors: dict[str, str] = {}
        self.freshness: dict[str, dict[str, Any]] = {}
        self._started = time.perf_counter()
        self._report_context = cache_report()

    def __enter__(self) -> SectionReader:
        self.report = self._report_context.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self._report_context.__exit__(*exc_info)

    def read(self, section: str, fn, *args) -> Any:
        """The section's value, or None with its error recorded (one panel's failure must not take
        the page down)."""
        try:
            result = fn.fetch(*args, force=self.force)
        except Exception as exc:
            self.errors[section] = f"{type(exc).__name__}: {exc}"
            return None
        self.freshness[section] = {"computed_at": result.computed_at.isoformat(), "cached": result.cached,
                                   "stale": result.stale}
        return result.value

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
        }
        return doc


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
