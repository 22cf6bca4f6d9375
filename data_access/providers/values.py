"""What every fail-soft provider shares: its clock, symbol lists, times, deterministic seeds for simulated
values, and the result set (`Results`: values per symbol, the others named with a reason)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO time from a provider's answer, in UTC (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        return aware(dt.datetime.fromisoformat(value))
    except ValueError:
        return None


def unique(symbols: Iterable[str]) -> list[str]:
    """The symbols in order, without duplicates or blanks."""
    return list(dict.fromkeys(s for s in symbols if s))


def seed(*parts: Any) -> int:
    """A random seed from ``parts``: the same in every process (simulated values agree everywhere)."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


class Unavailable(RuntimeError):
    """Some symbols have no value: the provider failed for them and no good value was ever stored."""

    what = "value"

    def __init__(self, unavailable: dict[str, str], available: dict[str, Any] | None = None) -> None:
        self.unavailable = dict(unavailable)
        self.available = dict(available or {})
        reasons = "; ".join(f"{symbol}: {reason}" for symbol, reason in self.unavailable.items())
        super().__init__(f"no {self.what} for {', '.join(self.unavailable)} ({reasons})")


class Results(dict):
    """``symbol -> value`` for the symbols that have one; ``unavailable`` maps the others to a reason."""

    error_type: type[Unavailable] = Unavailable

    def __init__(self, values: dict[str, Any] | None = None, unavailable: dict[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.unavailable: dict[str, str] = dict(unavailable or {})

    @property
    def stale_symbols(self) -> list[str]:
        return [symbol for symbol, value in self.items() if value.stale]

    def require(self) -> Results:
        """Self, or ``error_type`` (naming every unavailable symbol, carrying the rest) if any is missing."""
        if self.unavailable:
            raise self.error_type(self.unavailable, dict(self))
        return self
