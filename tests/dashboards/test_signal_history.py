"""The history grid's filtered count: read from the signal rollups when every filter is on status or
rejection reason, it equals SQL's count over the signals for any such filter - text of every kind,
sets, blanks, AND/OR combinations, nulls - and a text filter on status or side selects exactly the
rows SQL's LIKE would."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, cast, func, select

from data_access import migrate
from data_access.db import configure_database
from data_access.ingest import Writer, ingest
from data_access.models import Signal
from data_access.signal_history import page_conditions, rollup_count, signal_page, strategy_symbols
from tests.ingest_books import parsed as _parsed
from tests.ingest_books import with_strategies

STATUSES = ["PENDING", "FILLED", "REJECTED", "CANCELLED"]
REASONS = [None, "Insufficient margin", "Symbol halted", "Max position_size 100%"]
T0 = dt.datetime(2026, 3, 2, 9, 0)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'book.db'}"
    migrate.upgrade(url)
    engine = configure_database(url)
    with_strategies(engine, ("Alpha",))
    rng = np.random.default_rng(2)
    rows = []
    for i in range(400):
        status = STATUSES[int(rng.integers(0, 4))]
        rows.append({"signal_id": f"s{i}", "strategy_name": "Alpha", "symbol": ["AAPL", "MSFT", "TSLA"][i % 3],
                     "side": "BUY" if i % 2 else "SELL", "quantity": 1 + i % 7,
                     "received_time": (T0 + dt.timedelta(minutes=37 * i)).isoformat(), "execution_status": status,
                     "reject_reason": REASONS[int(rng.integers(0, 4))] if status == "REJECTED" else
                     (REASONS[1] if i % 50 == 0 else None)})  # a few reasons on signals not rejected
    ingest(engine, "signals", _parsed(rows), Writer("admin"))
    yield engine
    engine.dispose()


text_filter = st.fixed_dictionaries({
    "filterType": st.just("text"),
    "type": st.sampled_from(["contains", "notContains", "startsWith", "endsWith", "equals", "notEqual", "blank",
                             "notBlank"]),
    "filter": st.sampled_from(["fill", "FILLED", "e", "ed", "p", "margin", "halted", "%", "_", "x", "", "rej"]),
})
status_set = st.fixed_dictionaries({"filterType": st.just("set"),
                                    "values": st.lists(st.sampled_from(STATUSES), max_size=3)})


def _combined(single):
    return st.one_of(single, st.fixed_dictionaries({"filterType": st.just("text"),
                                                    "operator": st.sampled_from(["AND", "OR"]),
                                                    "conditions": st.lists(single, min_size=1, max_size=3)}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.one_of(st.none(), _combined(text_filter), status_set), reason=st.one_of(st.none(), _combined(text_filter)))
def test_the_count_from_the_rollups_equals_sqls_count(book, status, reason):
    model = {k: v for k, v in (("status", status), ("reject_reason", reason)) if v is not None}
    with book.connect() as conn:
        from_rollups = rollup_count(conn, 1, model)
        counted = conn.execute(select(func.count()).select_from(Signal).where(*page_conditions(1, model))).scalar_one()
    assert from_rollups == counted


@settings(max_examples=90, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(["status", "side", "symbol"]),
       spec=st.one_of(text_filter, text_filter.map(lambda f: {**f, "filter": {"fill": "ts", "e": "A", "p": "l"}.get(
           f["filter"], f["filter"])})))
def test_a_text_filter_on_status_side_or_symbol_selects_what_like_would(book, column, spec):
    stored = cast(getattr(Signal, column), String)
    with book.connect() as conn:
        symbols = strategy_symbols(conn, 1)
        assert symbols == sorted(s for (s,) in conn.execute(select(Signal.symbol).where(Signal.strategy_id == 1)
                                                            .distinct()))
        ids = {i for (i,) in conn.execute(select(Signal.signal_id).where(*page_conditions(1, {column: spec}, symbols)))}
        if spec["type"] in ("blank", "notBlank"):
            like = stored.is_(None) if spec["type"] == "blank" else stored.is_not(None)
        else:
            pattern = spec["filter"].lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            lowered = func.lower(stored)
            like = {"contains": lowered.like(f"%{pattern}%", escape="\\"),
                    "notContains": ~lowered.like(f"%{pattern}%", escape="\\"),
                    "startsWith": lowered.like(f"{pattern}%", escape="\\"),
                    "endsWith": lowered.like(f"%{pattern}", escape="\\"),
                    "equals": lowered == spec["filter"].lower(),
                    "notEqual": lowered != spec["filter"].lower()}[spec["type"]]
        expected = {i for (i,) in conn.execute(select(Signal.signal_id).where(Signal.strategy_id == 1, like))}
    assert ids == expected


def test_a_filter_beyond_the_rollups_is_counted_in_sql_and_the_page_agrees(book):
    model = {"status": {"filterType": "text", "type": "contains", "filter": "fill"},
             "symbol": {"filterType": "text", "type": "equals", "filter": "tsla"}}
    with book.connect() as conn:
        assert rollup_count(conn, 1, model) is None
    page = signal_page(1, 0, 500, [{"colId": "symbol", "sort": "asc"}], model)
    assert page["row_count"] == len(page["rows"]) > 0
    assert {(r["status"], r["symbol"]) for r in page["rows"]} == {("FILLED", "TSLA")}
    by_status = signal_page(1, 0, 10, [{"colId": "symbol", "sort": "asc"}], {"status": model["status"]})
    assert by_status["row_count"] > page["row_count"]
    assert [r["symbol"] for r in by_status["rows"]] == sorted(r["symbol"] for r in by_status["rows"])


def test_ties_follow_the_sorts_direction_and_every_sortable_column_is_walked_in_an_index(book):
    asc = signal_page(1, 0, 500, [{"colId": "symbol", "sort": "asc"}])["rows"]
    desc = signal_page(1, 0, 500, [{"colId": "symbol", "sort": "desc"}])["rows"]
    assert [(r["symbol"], r["sent_at"]) for r in asc] == sorted((r["symbol"], r["sent_at"]) for r in asc)
    assert [r["signal_id"] for r in desc] == [r["signal_id"] for r in reversed(asc)]  # the same index, walked back
    from sqlalchemy import select as sql_select

    from data_access.signal_history import SORTABLE, page_order
    for column in SORTABLE:
        for direction in ("asc", "desc"):
            query = (sql_select(Signal.id).where(*page_conditions(1, None)).order_by(*page_order(
                [{"colId": column, "sort": direction}])).limit(100))
            with book.connect() as conn:
                plan = " | ".join(row[3] for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + str(query.compile(book, compile_kwargs={"literal_binds": True}))).all())
            assert "USING" in plan and "TEMP B-TREE" not in plan, (column, direction, plan)
