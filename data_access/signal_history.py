"""A strategy's whole signal history for the server-side grid: rows ``[start, end)`` sorted and
filtered in SQL, and the filtered row count.

The count is what grows with the book: a filter on a strategy's millions of signals would have to
look at each. Filters on what the daily rollups key by - status and rejection reason, by value or
by text - are counted from ``signal_days`` instead (a few thousand rows per strategy, summed in
SQL, then matched here with SQL's own text and null rules); any other filter is counted in SQL. A
text filter on ``side``, ``status`` or ``symbol`` is resolved here against their few values (a
strategy's symbols found by a skip over its index) into an ``IN`` list, which the indexes serve.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, and_, cast, false, func, or_, select, text

from data_access.client_dashboard import _iso
from data_access.db import current_engine
from data_access.models import Bar, Execution, Side, Signal, SignalStatus

MAX_PAGE_ROWS = 500
CSV_ROWS = 10_000  # the history grid's CSV: the first rows of the current sort and filter


class InvalidPageRequest(ValueError):
    pass


def _value(v):
    return getattr(v, "value", v)


def _day_end(as_of: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(as_of) + dt.timedelta(days=1), dt.time())


# --------------------------------------------------------------------------- rows


def _latest_close(symbol_column, as_of: str):
    return (select(Bar.close)
            .where(Bar.symbol == symbol_column, Bar.timeframe == "1d", Bar.time < _day_end(as_of))
            .order_by(Bar.time.desc()).limit(1)
            .scalar_subquery())


def _filled_quantity():
    return (select(func.sum(Execution.quantity)).where(Execution.signal_id == Signal.id)
            .correlate(Signal).scalar_subquery())


def _fill_notional():
    return (select(func.sum(Execution.quantity * Execution.price)).where(Execution.signal_id == Signal.id)
            .correlate(Signal).scalar_subquery())


def signal_columns(as_of: str):
    return (Signal.signal_id, Signal.received_at, Signal.symbol, Signal.side, Signal.quantity, Signal.status,
            Signal.reject_reason, _filled_quantity(), _fill_notional(), _latest_close(Signal.symbol, as_of))


def signal_row(row) -> dict[str, Any]:
    sid, received, symbol, side, quantity, status, reason, filled, notional, close = row
    fill_price = notional / filled if filled else None
    pnl = None
    if filled and close is not None:
        direction = 1.0 if _value(side) == Side.BUY.value else -1.0
        pnl = (close - fill_price) * filled * direction
    return {"signal_id": sid, "sent_at": _iso(received), "symbol": symbol, "side": _value(side),
            "quantity_requested": quantity, "quantity_filled": float(filled or 0.0), "fill_price": fill_price,
            "status": _value(status), "reject_reason": reason, "pnl": pnl}


# --------------------------------------------------------------------------- filters

SORTABLE = {"sent_at": Signal.received_at, "symbol": Signal.symbol, "side": Signal.side, "status": Signal.status,
            "quantity": Signal.quantity, "quantity_requested": Signal.quantity}
_TEXT = {"symbol": Signal.symbol, "reject_reason": Signal.reject_reason, "sent_at": cast(Signal.received_at, String)}
_ENUM_TEXT = {"side": (Signal.side, Side), "status": (Signal.status, SignalStatus)}
_SETS = {"side": (Signal.side, Side), "status": (Signal.status, SignalStatus), "symbol": (Signal.symbol, None)}
_NUMBERS = {"quantity": Signal.quantity, "quantity_requested": Signal.quantity}
_DATES = {"sent_at": Signal.received_at}
FILTERABLE = sorted(set(_TEXT) | set(_ENUM_TEXT) | set(_SETS) | set(_NUMBERS) | set(_DATES))
TEXT_FILTERABLE = sorted(set(_TEXT) | set(_ENUM_TEXT))
TEXT_KINDS = ("contains", "notContains", "startsWith", "endsWith", "equals", "notEqual", "blank", "notBlank")
ROLLUP_COLUMNS = ("status", "reject_reason")  # what signal_days keys by: such filters count from it


def _like(text_: str) -> str:
    return text_.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_kind(kind: str, value: Any) -> None:
    if kind not in TEXT_KINDS:
        raise InvalidPageRequest(f"unknown text filter type {kind!r}")
    if kind not in ("blank", "notBlank") and not isinstance(value, str):
        raise InvalidPageRequest("a text filter needs a string 'filter'")


def _text_condition(column, kind: str, value: Any):
    _text_kind(kind, value)
    if kind in ("blank", "notBlank"):
        return column.is_(None) if kind == "blank" else column.is_not(None)
    lowered, pattern = func.lower(column), _like(value)
    return {
        "contains": lambda: lowered.like(f"%{pattern}%", escape="\\"),
        "notContains": lambda: ~lowered.like(f"%{pattern}%", escape="\\"),
        "startsWith": lambda: lowered.like(f"{pattern}%", escape="\\"),
        "endsWith": lambda: lowered.like(f"%{pattern}", escape="\\"),
        "equals": lambda: lowered == value.lower(),
        "notEqual": lambda: lowered != value.lower(),
    }[kind]()


def text_matches(stored: str | None, kind: str, value: Any) -> bool | None:
    """What SQL's ``lower(column) LIKE ...`` says of one stored value: True, False or None (unknown:
    a null compared, which a WHERE drops)."""
    _text_kind(kind, value)
    if kind in ("blank", "notBlank"):
        return (stored is None) == (kind == "blank")
    if stored is None:
        return None
    have, want = stored.lower(), value.lower()
    return {"contains": want in have, "notContains": want not in have, "startsWith": have.startswith(want),
            "endsWith": have.endswith(want), "equals": have == want, "notEqual": have != want}[kind]


def _values_condition(column, values, kind: str, value: Any):
    """A text filter on a never-null column of few values (``values``: all it holds) as the IN list
    of those it matches."""
    matching = [v for v in values if text_matches(getattr(v, "value", v), kind, value)]
    return column.in_(matching) if matching else false()


def strategy_symbols(connection, strategy_id: int) -> list[str]:
    """The symbols a strategy has signals in: one index seek per symbol (a recursive skip over the
    (strategy, symbol, received_at) index), not a scan of its signals."""
    return [symbol for (symbol,) in connection.execute(text(
        "WITH RECURSIVE s(symbol) AS (SELECT MIN(symbol) FROM signals WHERE strategy_id = :s UNION ALL "
        "SELECT (SELECT MIN(g.symbol) FROM signals g WHERE g.strategy_id = :s AND g.symbol > s.symbol) FROM s "
        "WHERE s.symbol IS NOT NULL) SELECT symbol FROM s WHERE symbol IS NOT NULL"), {"s": strategy_id}).all()]


def _compare(column, kind: str, value, value_to=None):
    ops = {"equals": column == value, "notEqual": column != value, "greaterThan": column > value,
           "greaterThanOrEqual": column >= value, "lessThan": column < value, "lessThanOrEqual": column <= value}
    if kind == "inRange":
        if value_to is None:
            raise InvalidPageRequest("an inRange filter needs 'filterTo'/'dateTo'")
        return and_(column >= value, column <= value_to)
    if kind not in ops:
        raise InvalidPageRequest(f"unknown filter type {kind!r}")
    return ops[kind]


def _parse_date(raw: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(raw).replace("Z", ""))
    except ValueError:
        raise InvalidPageRequest(f"not a date: {raw!r}") from None


def _set_values(col: str, spec: dict) -> list:
    _column, enum = _SETS[col]
    values = spec.get("values")
    if not isinstance(values, list):
        raise InvalidPageRequest("a set filter needs a list of 'values'")
    if enum is not None:
        try:
            values = [enum(v) for v in values]
        except ValueError:
            raise InvalidPageRequest(f"{col} values must be among {[e.value for e in enum]}") from None
    return values


def _parts(col: str, spec: dict) -> tuple[list[dict], bool] | None:
    """A combined filter's conditions and whether they are OR-ed; None for a single condition."""
    if "conditions" not in spec and "operator" not in spec:
        return None
    parts = [{"filterType": spec.get("filterType"), **c} for c in spec.get("conditions") or []]
    if not parts:
        raise InvalidPageRequest(f"filter on {col!r} has no conditions")
    return parts, str(spec.get("operator", "AND")).upper() == "OR"


def _one_filter(col: str, spec: dict, symbols: list[str] | None = None):
    combined = _parts(col, spec)
    if combined is not None:
        parts = [_one_filter(col, part, symbols) for part in combined[0]]
        return or_(*parts) if combined[1] else and_(*parts)
    kind_of = spec.get("filterType", "text")
    kind = spec.get("type", "contains")
    if kind_of == "text" and col in _ENUM_TEXT:
        column, enum = _ENUM_TEXT[col]
        return _values_condition(column, list(enum), kind, spec.get("filter"))
    if kind_of == "text" and col == "symbol" and symbols is not None:
        return _values_condition(Signal.symbol, symbols, kind, spec.get("filter"))
    if kind_of == "text" and col in _TEXT:
        return _text_condition(_TEXT[col], kind, spec.get("filter"))
    if kind_of == "set" and col in _SETS:
        return _SETS[col][0].in_(_set_values(col, spec))
    if kind_of == "number" and col in _NUMBERS:
        try:
            value = float(spec["filter"]) if kind not in ("blank", "notBlank") else None
            value_to = float(spec["filterTo"]) if spec.get("filterTo") is not None else None
        except (KeyError, TypeError, ValueError):
            raise InvalidPageRequest(f"a number filter on {col!r} needs a numeric 'filter'") from None
        return _compare(_NUMBERS[col], kind, value, value_to)
    if kind_of == "date" and col in _DATES:
        value_to = _parse_date(spec["dateTo"]) if spec.get("dateTo") else None
        return _compare(_DATES[col], kind, _parse_date(spec.get("dateFrom")), value_to)
    raise InvalidPageRequest(f"cannot filter {col!r} with a {kind_of!r} filter; filterable: {', '.join(FILTERABLE)}")


def _matches(col: str, spec: dict, stored: str | None) -> bool | None:
    """One filter on a status or reason, evaluated as SQL would (three-valued: None is unknown)."""
    combined = _parts(col, spec)
    if combined is not None:
        results = [_matches(col, part, stored) for part in combined[0]]
        if combined[1]:
            return True if True in results else (None if None in results else False)
        return False if False in results else (None if None in results else True)
    kind_of, kind = spec.get("filterType", "text"), spec.get("type", "contains")
    if kind_of == "set" and col == "status":
        return stored in {e.value for e in _set_values(col, spec)}
    if kind_of == "text":
        return text_matches(stored, kind, spec.get("filter"))
    raise InvalidPageRequest(f"cannot filter {col!r} with a {kind_of!r} filter; filterable: {', '.join(FILTERABLE)}")


def page_conditions(strategy_id: int, filter_model: dict | None, symbols: list[str] | None = None) -> list:
    """The WHERE of a page; with ``symbols`` (all the strategy's, from ``strategy_symbols``) a text
    filter on symbol becomes the IN list of those it matches, else a LIKE."""
    conditions = [Signal.strategy_id == strategy_id]
    for col, spec in (filter_model or {}).items():
        if not isinstance(spec, dict):
            raise InvalidPageRequest(f"filter on {col!r} must be an object")
        conditions.append(_one_filter(col, spec, symbols))
    return conditions


def page_order(sort_model: list[dict] | None) -> list:
    """The sort's columns, then receipt time and id as tie-breaks in the first column's direction
    (newest first without a sort): an index on (strategy, column, received_at) then serves the
    page walked either way, where a fixed "newest first" would sort each tie group."""
    order, first = [], None
    for item in sort_model or []:
        col, direction = item.get("colId"), str(item.get("sort", "asc")).lower()
        if col not in SORTABLE:
            raise InvalidPageRequest(f"cannot sort by {col!r}; sortable: {', '.join(sorted(SORTABLE))}")
        if direction not in ("asc", "desc"):
            raise InvalidPageRequest(f"sort direction must be asc or desc, got {direction!r}")
        first = first or direction
        order.append(SORTABLE[col].desc() if direction == "desc" else SORTABLE[col].asc())
    ties = [] if any(item.get("colId") == "sent_at" for item in sort_model or []) else [Signal.received_at]
    return order + [column.asc() if first == "asc" else column.desc() for column in (*ties, Signal.id)]


def rollup_count(connection, strategy_id: int, filter_model: dict | None) -> int | None:
    """The filtered count from signal_days when every filter is on status or rejection reason
    (None otherwise): each (status, reason) group's total, kept where the filters hold."""
    model = filter_model or {}
    if any(col not in ROLLUP_COLUMNS for col in model):
        return None
    groups = connection.execute(text("SELECT status, reject_reason, SUM(signals) FROM signal_days "
                                     "WHERE strategy_id = :s GROUP BY status, reject_reason"), {"s": strategy_id}).all()
    total = 0
    for status, reason, n in groups:
        stored = {"status": status, "reject_reason": reason or None}
        if all(_matches(col, spec, stored[col]) is True for col, spec in model.items()):
            total += int(n)
    return total


def signal_page(strategy_id: int, start_row: int, end_row: int, sort_model: list[dict] | None = None,
                filter_model: dict | None = None, *, as_of: dt.date | None = None,
                max_rows: int = MAX_PAGE_ROWS) -> dict[str, Any]:
    """Rows ``[start_row, end_row)`` of the strategy's whole signal history, sorted and filtered in
    SQL (LIMIT/OFFSET), and the filtered row count (from the rollups where the filters allow)."""
    try:
        start_row, end_row = int(start_row), int(end_row)
    except (TypeError, ValueError):
        raise InvalidPageRequest("start and end must be integers") from None
    if start_row < 0 or end_row <= start_row or end_row - start_row > max_rows:
        raise InvalidPageRequest(f"need 0 <= start < end and at most {max_rows} rows per page")
    page_conditions(strategy_id, filter_model)  # a bad filter is refused before any statement
    order = page_order(sort_model)
    as_of_day = (as_of or dt.datetime.now(dt.UTC).date()).isoformat()
    with current_engine().connect() as connection:
        symbols = strategy_symbols(connection, strategy_id) if "symbol" in (filter_model or {}) else None
        conditions = page_conditions(strategy_id, filter_model, symbols)
        # pick the page's ids first, so the per-row fill and price subqueries run for its rows only
        # (not for every row the sort has to look at)
        page_ids = (select(Signal.id).where(*conditions).order_by(*order)
                    .offset(start_row).limit(end_row - start_row).subquery())
        rows = connection.execute(select(*signal_columns(as_of_day)).join(page_ids, page_ids.c.id == Signal.id)
                                  .order_by(*order)).all()
        count = rollup_count(connection, strategy_id, filter_model)
        if count is None:
            count = connection.execute(select(func.count()).select_from(Signal).where(*conditions)).scalar_one()
    return {"rows": [signal_row(r) for r in rows], "row_count": int(count)}
