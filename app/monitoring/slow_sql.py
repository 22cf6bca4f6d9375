"""Slow SQL: every statement on a watched engine slower than its threshold is logged with its text."""

from __future__ import annotations

import logging
import re
import time
import weakref

log = logging.getLogger(__name__)

SQL_LOG_CHARS = 1000
_sql_thresholds: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SQL_STARTED = "_tb_sql_started"


def watch_sql(engine, threshold_seconds: float) -> None:
    """Log every statement on ``engine`` slower than ``threshold_seconds`` (listeners added once per engine)."""
    from sqlalchemy import event

    first = engine not in _sql_thresholds
    _sql_thresholds[engine] = threshold_seconds
    if first:
        event.listen(engine, "before_cursor_execute", _before_sql)
        event.listen(engine, "after_cursor_execute", _after_sql)


def _before_sql(conn, cursor, statement, parameters, context, executemany) -> None:
    if context is not None:
        setattr(context, _SQL_STARTED, time.perf_counter())


def _after_sql(conn, cursor, statement, parameters, context, executemany) -> None:
    started = getattr(context, _SQL_STARTED, None) if context is not None else None
    if started is None:
        return
    seconds = time.perf_counter() - started
    threshold = _sql_thresholds.get(conn.engine)
    if threshold is not None and seconds > threshold:
        text = re.sub(r"\s+", " ", statement).strip()
        if len(text) > SQL_LOG_CHARS:
            text = text[:SQL_LOG_CHARS] + f"… ({len(statement)} chars)"
        log.warning("slow SQL: %.3f s: %s", seconds, text)
