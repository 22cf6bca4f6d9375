"""Cache keys: the prefix every key of the project shares, the TTL tiers, and key fragments built from
primitive arguments only (never a frame, a session or an engine)."""

from __future__ import annotations

import datetime as dt
from typing import Any

TIERS = ("realtime", "short", "medium", "long")
KEY_PREFIX = "tb:"
FAMILY_STATS_KEY = f"{KEY_PREFIX}mon:family-reads"  # hash "<family>|hit" / "<family>|miss" -> count
_PRIMITIVES = (str, int, float, bool, type(None), dt.date, dt.datetime)


def key_part(value: Any) -> str:
    """A key fragment from a primitive; anything else (a frame, a session, an engine) is an error."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(key_part(v) for v in value) + "]"
    if not isinstance(value, _PRIMITIVES):
        raise TypeError(f"cache key arguments must be primitives (str, number, date), got {type(value).__name__}")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)
