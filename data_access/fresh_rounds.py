"""Concurrent requests for a real-time section share one computation, and none gets an old one.

A real-time section (open positions, queues, health) is never cached: each request must see the
database as it is after the request arrived. Under load, though, a hundred requests in the same
few milliseconds would each run the same statements. ``FreshRounds`` runs them in *rounds*: a request
joins the round that has not started yet (or opens one), the round starts once the previous round
of the same key has finished, and every member gets its result. A round starts after each of its
members arrived, so no member gets a result older than its request, and per key and process there is
at most one computation running and one waiting. A failure reaches that round's members only, and
each member but the one that computed gets its own copy of the value. A member whose round never
ends (its thread stopped, or stuck past ``wait_seconds``) computes on its own: never a hang.

A round may also *gather* (``gather_seconds``, whole documents only: ``app.shared_documents``):
before it starts, it waits until as many requests have joined it as joined the previous round of
its key, for at most ``gather_seconds``. Clients that ask again as soon as they are answered (a
script polling a dashboard, a proxy's few keep-alive connections) otherwise split into two
alternating halves, each round holding the half that came back while the other was computed; with
the wait, one computation serves them all. A lone request never waits (its previous round had one
member), and a round that waited in vain remembers its own, smaller size, so the next one does not.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any


class _Round:
    __slots__ = ("done", "value", "error", "started_at", "members", "awaited")

    def __init__(self) -> None:
        self.members = 1  # the request that opened it and those that joined it
        self.awaited = math.inf  # while it gathers: the members it waits for (the joiner that completes them wakes it)
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.started_at: dt.datetime | None = None


class FreshRounds:
    MAX_REMEMBERED_SIZES = 4096  # keys whose last round size is kept for gathering (then forgotten at once)

    def __init__(self, wait_seconds: float = 30.0) -> None:
        self.wait_seconds = wait_seconds  # a member waits this long for its round, then computes alone
        self._lock = threading.Lock()
        self._joined = threading.Condition(self._lock)  # notified as a request joins a gathering round
        self._waiting: dict[Hashable, _Round] = {}
        self._running: dict[Hashable, _Round] = {}
        self._last_size: dict[Hashable, int] = {}

    def run(self, key: Hashable, compute: Callable[[], Any], gather_seconds: float = 0.0,
            immutable: bool = False) -> tuple[Any, dt.datetime]:
        """``compute()``'s value from a round that started after this call, and when that round started;
        ``immutable``: the value cannot be changed (bytes, tuples of them), so members share it uncopied."""
        with self._lock:
            joined = self._waiting.get(key)
            leads = joined is None
            if leads:
                joined = self._waiting[key] = _Round()
                previous = self._running.get(key)
            else:
                joined.members += 1
                if joined.members == joined.awaited:
                    self._joined.notify_all()
        if not leads:
            return self._result_of(joined, compute, immutable)
        try:
            if previous is not None:  # its members arrived earlier; this round must start after it
                previous.done.wait(self.wait_seconds)
            with self._lock:
                if gather_seconds > 0:
                    self._gather(key, joined, gather_seconds)
                self._waiting.pop(key, None)  # from here on, new arrivals open the next round
                self._running[key] = joined
            joined.started_at = dt.datetime.now(dt.UTC)
            joined.value = compute()
        except BaseException as exc:
            joined.error = exc
            raise
        finally:
            with self._lock:  # whatever happened (even a thread stopped by SystemExit), the key is free
                if self._waiting.get(key) is joined:
                    del self._waiting[key]
                if self._running.get(key) is joined:
                    del self._running[key]
            joined.done.set()
        return joined.value, joined.started_at

    def _gather(self, key: Hashable, joined: _Round, seconds: float) -> None:
        """Under the lock: wait until the round has as many members as the key's previous round had,
        or ``seconds`` passed; then remember this round's size."""
        deadline = time.monotonic() + seconds
        target = joined.awaited = self._last_size.get(key, 1)
        while joined.members < target:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._joined.wait(left)
        if len(self._last_size) >= self.MAX_REMEMBERED_SIZES and key not in self._last_size:
            self._last_size.clear()  # a flood of distinct query strings must not grow this without bound
        self._last_size[key] = joined.members

    def _result_of(self, joined: _Round, compute: Callable[[], Any], immutable: bool) -> tuple[Any, dt.datetime]:
        """A member's answer: its round's (a copy unless immutable, so each request owns what it was
        given), its round's error, or, when the round's thread was stopped or is stuck, a computation
        of its own."""
        if joined.done.wait(self.wait_seconds):
            if joined.error is None:
                return (joined.value if immutable else copy.deepcopy(joined.value)), joined.started_at
            if isinstance(joined.error, Exception):
                raise joined.error
        started_at = dt.datetime.now(dt.UTC)  # still after this request arrived
        return compute(), started_at


rounds = FreshRounds()


def fresh_value(fn: Callable[..., Any], *args: Any, round_of: Hashable = None) -> tuple[Any, dt.datetime]:
    """``fn(*args)`` computed after this call, shared with concurrent callers of the same ``fn``,
    ``args`` and ``round_of`` (what the computation depends on besides its arguments, as this caller saw it)."""
    try:
        key = (fn, args, round_of)
        hash(key)
    except TypeError:  # arguments that cannot be a key: computed alone
        return fn(*args), dt.datetime.now(dt.UTC)
    return rounds.run(key, lambda: fn(*args))
