"""What the cache hands back and hands over: a section's value with where it came from (`Cached`), a
stale one with what refreshes it (`StaleSection`), and a refresh another process can do
(`SectionRefresh`, as a JSON message)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Cached:
    """A section's value with where it came from."""

    value: Any
    computed_at: dt.datetime
    cached: bool  # served from Redis rather than computed for this call
    stale: bool = False  # served past its TTL while another process refreshes it
    key: str | None = None
    fresh_until: float | None = None  # unix time the value stops being fresh (None: not cached)
    ttl: int | None = None

    @property
    def fresh_for_seconds(self) -> float | None:
        return None if self.fresh_until is None else round(self.fresh_until - time.time(), 1)

    @property
    def age_seconds(self) -> float:
        return (dt.datetime.now(dt.UTC) - self.computed_at).total_seconds()


@dataclass
class StaleSection:
    """A stale value just read, with what refreshes it: the section's name and arguments, and its computation."""

    cached: Cached
    name: str
    args: tuple
    compute: Callable[[], Any]


@dataclass(frozen=True)
class SectionRefresh:
    """A stale section's refresh, in terms another process can do: the section's name and
    arguments, the key it was read from, its TTL and the lock the reader won for it."""

    name: str
    args: tuple
    key: str
    ttl: int
    lock: str

    @property
    def portable(self) -> bool:
        """Whether the arguments survive JSON unchanged, tuples coming back as lists (dates would not)."""
        return all(_json_portable(arg) for arg in self.args)

    def to_message(self) -> dict[str, Any]:
        return {"name": self.name, "args": list(self.args), "key": self.key, "ttl": self.ttl, "lock": self.lock}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> SectionRefresh:
        return cls(message["name"], tuple(_tuples(arg) for arg in message["args"]), message["key"],
                   int(message["ttl"]), message["lock"])


def _json_portable(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_json_portable(item) for item in value)
    return value is None or isinstance(value, (str, int, float))  # bool is an int


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def from_entry(entry: dict[str, Any], key: str, ttl: int | None) -> Cached:
    """A stored entry (``{"value", "at", "fresh_until"}``) as a Cached hit."""
    return Cached(entry["value"], from_ts(entry["at"]), cached=True, key=key, fresh_until=entry["fresh_until"], ttl=ttl)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def from_ts(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)
