"""The paper-trading dashboard's limits, families and small helpers (times, ratios, enum values)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from data_access.models import PaperSignalStatus

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
SHADOW_DAYS = 5
STUCK_QUEUE_SECONDS = 300  # a signal queued longer than this makes the health "degraded"
MISSED = (PaperSignalStatus.REJECTED, PaperSignalStatus.SKIPPED, PaperSignalStatus.EXPIRED)
FAMILIES = ("paper",)


class InvalidLimit(ValueError):
    pass


def check_limit(limit: Any) -> int:
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise InvalidLimit(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidLimit(f"limit must be an integer from 1 to {MAX_LIMIT}, got {value}")
    return value


def enum_value(v):
    return getattr(v, "value", v)


def utc_now_naive() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def day_bounds(as_of: str) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(dt.date.fromisoformat(as_of), dt.time())
    return start, start + dt.timedelta(days=1)


def age_seconds(moment: dt.datetime | None, now: dt.datetime) -> float | None:
    return None if moment is None else round(max(0.0, (now - moment).total_seconds()), 1)


def ratio_pct(part: float, whole: float) -> float | None:
    return part / whole * 100.0 if whole else None
