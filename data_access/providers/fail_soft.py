"""`FailSoftProvider`: values per symbol from a subclass's ``_fetch``, each failure named, with the
last-good fallback for the providers that remember."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from data_access.providers.http import reason
from data_access.providers.last_good import LastGoodStore
from data_access.providers.values import Clock, Results, aware, unique, utc_now

log = logging.getLogger(__name__)


class FailSoftProvider:
    """Values per symbol from ``_fetch``, with the last-good fallback. Subclasses set ``kind``,
    ``fields``, ``result_type``, ``value_type`` and implement ``_fetch``.

    ``_fetch(symbols)`` returns ``(symbol -> (fields dict, as_of), symbol -> failure reason)``; if it
    raises, every symbol fails with that reason. Providers with ``remember = True`` keep their good
    values in Redis and fall back to them (``stale=True``) for failed symbols.
    """

    kind = "value"
    name = "base"
    remember = False
    fields: tuple[str, ...] = ()
    result_type: type[Results] = Results
    value_type: type = object

    def __init__(self, *, clock: Clock = utc_now, last_good: LastGoodStore | None = None) -> None:
        self.clock = clock
        self.last_good = last_good if last_good is not None else LastGoodStore(self.kind)

    def _fetch(self, symbols: list[str]) -> tuple[dict[str, tuple[dict[str, float], dt.datetime]], dict[str, str]]:
        raise NotImplementedError

    def _value(self, symbol: str, values: dict[str, Any], as_of: dt.datetime, now: dt.datetime, *, stale: bool,
               age_from: dt.datetime) -> Any:
        numbers = {name: float(values[name]) for name in self.fields}
        return self.value_type(symbol=symbol, **numbers, as_of=aware(as_of), source=self.name, stale=stale,
                               age_seconds=max(0.0, (now - aware(age_from)).total_seconds()))

    def lookup(self, symbols: Iterable[str]) -> Results:
        wanted = unique(symbols)
        if not wanted:
            return self.result_type()
        try:
            found, failures = self._fetch(wanted)
        except Exception as exc:  # noqa: BLE001 - fail soft: the whole batch failed
            log.warning("%s %s failed for %s: %s", self.name, self.kind, ", ".join(wanted), exc)
            found, failures = {}, {symbol: reason(exc) for symbol in wanted}
        now = self.clock()
        results: dict[str, Any] = {}
        for symbol in wanted:
            if symbol in found:
                values, as_of = found[symbol]
                results[symbol] = self._value(symbol, values, as_of, now, stale=False, age_from=as_of)
            elif symbol not in failures:
                failures[symbol] = "no value"
        if self.remember:
            self.last_good.save({s: {**{f: getattr(v, f) for f in self.fields}, "as_of": v.as_of.isoformat()}
                                 for s, v in results.items()}, now)
            if failures:
                for symbol, (stored, saved_at) in self.last_good.load(list(failures)).items():
                    try:
                        as_of = dt.datetime.fromisoformat(stored.get("as_of") or saved_at.isoformat())
                        results[symbol] = self._value(symbol, stored, as_of, now, stale=True, age_from=saved_at)
                    except (KeyError, TypeError, ValueError, AttributeError):
                        continue  # a malformed stored value is no fallback
                    del failures[symbol]
        ordered = {symbol: results[symbol] for symbol in wanted if symbol in results}
        return self.result_type(ordered, {symbol: failures[symbol] for symbol in wanted if symbol in failures})
