"""Real-time sections re-read their rows only when the tables under them changed.

A real-time section (open positions, shadow positions, exits, the queue) must show the database as
it is after the request arrived, so it cannot be cached for a while. Most requests, though, find
nothing changed since the previous one. Triggers raise a counter in ``table_versions`` with the
writes to the paper tables, in the writer's own transaction: on SQLite with every insert, update and
delete (migration 0006); on PostgreSQL once per transaction, at its commit (migration 0014). A
document build reads that counter once (a primary-key lookup, after the build's requests arrived),
and each section reuses the rows it read last time if they were read under the
same counter, else reads them anew and keeps them under it. Rows are always read *after* the
counter they are kept under, so they are never older than it: when the counter has not moved, no
change was committed since they were read, and they are the database as it is now.

In a database built without the migrations there is no counter and every read goes to the database.
Kept rows are shared by every later build of the process: callers must not change them (``mark``
copies rows before it prices them).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from data_access.build_scope import for_this_build
from data_access.db import current_engine
from data_access.models import TableVersion

T = TypeVar("T")
PAPER = "paper"  # the group of paper_accounts, paper_trades and paper_signals

_STAMP = select(TableVersion.epoch, TableVersion.version).where(TableVersion.name == PAPER)
_NOT_READ = object()


class _BuildStamp:
    """The counter as one build read it (read on first use, at most once per build and engine)."""

    __slots__ = ("engine", "value", "open")

    def __init__(self) -> None:
        self.engine: Any = None
        self.value: Any = _NOT_READ
        # False once the build is over: a stale section refreshed later in the background (in a copy of
        # the build's context) must read the counter anew, or it could reuse rows older than its refresh
        self.open = True


_build_stamp: contextvars.ContextVar[_BuildStamp | None] = contextvars.ContextVar("build_stamp", default=None)


def one_stamp_per_build() -> contextlib.AbstractContextManager[_BuildStamp]:
    """Within the block (and the threads it hands its context to), the counter is read once."""
    return for_this_build(_build_stamp, _BuildStamp())


def _read_stamp(engine) -> tuple[str, int] | None:
    try:
        with engine.connect() as connection:
            row = connection.execute(_STAMP).first()
    except DBAPIError:  # no such table (not migrated), or unreachable: the read itself will tell
        return None
    return (row[0], row[1]) if row is not None else None


def paper_stamp() -> tuple[str, int] | None:
    """(epoch, version) of the paper tables now, or None where no counter is kept."""
    engine = current_engine()
    build = _build_stamp.get()
    if build is None or not build.open:
        return _read_stamp(engine)
    if build.value is _NOT_READ or build.engine is not engine:
        build.engine, build.value = engine, _read_stamp(engine)
    return build.value


class UnchangedReads:
    """``reads.get(key, read)``: ``read()``'s value, or the one kept from the last ``read()`` under this
    key if the paper tables have not changed since (and ``still_valid(kept)``, when given)."""

    MAX_KEPT = 256  # distinct (database, key) pairs; past it every kept value is dropped at once

    def __init__(self) -> None:
        self._kept: dict[Hashable, tuple[tuple[str, int], Any]] = {}

    def get(self, key: Hashable, read: Callable[[], T], still_valid: Callable[[T], bool] | None = None) -> T:
        stamp = paper_stamp()
        if stamp is None:
            return read()
        full_key = (str(current_engine().url), key)
        kept = self._kept.get(full_key)
        if kept is not None and kept[0] == stamp and (still_valid is None or still_valid(kept[1])):
            return kept[1]
        value = read()
        if len(self._kept) >= self.MAX_KEPT and full_key not in self._kept:
            self._kept.clear()
        self._kept[full_key] = (stamp, value)
        return value

    def clear(self) -> None:
        self._kept.clear()


paper_reads = UnchangedReads()
