"""The signal-sender's signal section, read from the daily signal rollups, equals the same section
computed here from the raw signals: on random books sent through the ingest writer in random
batches, with re-sent signals that change status, reason, receipt time or fill time, and fills
that stamp a missing fill time. Counts and reasons exactly, the mean lag exactly, the percentiles
and maximum within 1 % of numpy's (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from data_access import migrate
from data_access.aggregates import rebuild_aggregates
from data_access.db import configure_database, make_engine
from data_access.ingest import Writer, ingest
from data_access.signal_sender_dashboard import signal_stats
from tests.ingest_books import parsed as _parsed
from tests.ingest_books import with_strategies

T0 = dt.datetime(2026, 3, 2, 9, 0)
AS_OF = "2026-03-12"
STATUSES = ["PENDING", "FILLED", "REJECTED", "CANCELLED"]
REASONS = [None, "Insufficient margin", "Symbol halted"]


def _book(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    with_strategies(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("signal_rollups") / "template.db"
    _book(f"sqlite:///{path}")
    return path


def _signal(i: int, strategy: str, status: str, reason: int, minute: int, lag_ms: int | None) -> dict:
    received = T0 + dt.timedelta(minutes=minute)
    row = {"signal_id": f"s{i}", "strategy_name": strategy, "symbol": "AAA", "side": "BUY", "quantity": 1,
           "received_time": received.isoformat(), "execution_status": status,
           "reject_reason": REASONS[reason] if status == "REJECTED" else None}
    if lag_ms is not None:
        row["filled_at"] = (received + dt.timedelta(milliseconds=lag_ms)).isoformat()
    return row


def _expected(engine, strategy_id: int, first: dt.date | None) -> dict:
    """The section computed its own way: every signal of the range read and counted in pandas/numpy."""
    with engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(text("SELECT received_at, status, reject_reason, filled_at FROM signals "
                                              "WHERE strategy_id = :s"), {"s": strategy_id}).all(),
                            columns=["received_at", "status", "reject_reason", "filled_at"])
    received = pd.to_datetime(rows["received_at"], format="ISO8601")
    keep = received < pd.Timestamp(AS_OF) + pd.Timedelta(days=1)
    if first is not None:
        keep &= received >= pd.Timestamp(first)
    rows, received = rows[keep], received[keep]
    counts = {s: int((rows["status"] == s).sum()) for s in STATUSES}
    rejected = rows[rows["status"] == "REJECTED"]["reject_reason"].fillna("(no reason given)").value_counts()
    filled = (rows["status"] == "FILLED") & rows["filled_at"].notna()
    lags = ((pd.to_datetime(rows["filled_at"][filled], format="ISO8601") - received[filled]).dt.total_seconds()
            .clip(lower=0).to_numpy())
    return {"counts": counts, "reasons": {str(k): int(v) for k, v in rejected.items()}, "lags": lags}


def _assert_section_matches(engine) -> None:
    for strategy_id in (1, 2):
        for time_range, first in (("7d", dt.date(2026, 3, 5)), ("all", None)):
            got = signal_stats.__wrapped__(strategy_id, time_range, AS_OF)
            want = _expected(engine, strategy_id, first)
            assert got["counts"] == want["counts"]
            assert {r["reason"]: r["count"] for r in got["rejection_reasons"]} == want["reasons"]
            lags, lag = want["lags"], got["lag"]
            if not lags.size:
                assert lag == dict.fromkeys(("avg", "median", "p95", "p99", "max"))
                continue
            assert lag["avg"] == pytest.approx(float(lags.mean()), rel=1e-9, abs=1e-9)
            for key, exact in (("median", np.quantile(lags, 0.5)), ("p95", np.quantile(lags, 0.95)),
                               ("p99", np.quantile(lags, 0.99)), ("max", lags.max())):
                assert abs(lag[key] - exact) <= 0.01 * exact + 1e-9, (key, lag[key], exact)
            assert sum(got["histogram"]["counts"]) + got["histogram"]["overflow"] == lags.size


def _stored(engine) -> tuple[list, list]:
    with engine.connect() as conn:
        days = conn.execute(text("SELECT strategy_id, day, status, reject_reason, signals FROM signal_days "
                                 "ORDER BY strategy_id, day, status, reject_reason")).all()
        lags = conn.execute(text("SELECT strategy_id, day, fills, lag_sum, sketch FROM signal_lag_days "
                                 "ORDER BY strategy_id, day")).all()
    return [tuple(map(str, r)) for r in days], [(*map(str, r[:3]), round(r[3], 6), bytes(r[4])) for r in lags]


def _assert_rebuild_keeps(engine) -> None:
    """rebuild-aggregates ends where the writes did."""
    kept = _stored(engine)
    with engine.begin() as conn:
        rebuild_aggregates(conn)
    assert _stored(engine) == kept


signals = st.lists(st.tuples(st.sampled_from(["Alpha", "Beta"]), st.sampled_from(STATUSES), st.integers(0, 2),
                             st.integers(0, 12 * 24 * 60), st.one_of(st.none(), st.integers(0, 90_000))),
                   min_size=1, max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(book=signals, cuts=st.lists(st.integers(0, 40), max_size=4), order=st.randoms(use_true_random=False),
       resent=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(STATUSES), st.integers(0, 12 * 24 * 60),
                                 st.one_of(st.none(), st.integers(0, 5_000))), max_size=6),
       fills=st.lists(st.integers(0, 39), max_size=5))
def test_the_signal_section_from_rollups_equals_the_raw_signals_whatever_the_batches(template, tmp_path, book, cuts,
                                                                                     order, resent, fills):
    path = tmp_path / f"book_{order.random():.12f}.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    engine = configure_database(url)
    rows = [_signal(i, *spec) for i, spec in enumerate(book)]
    order.shuffle(rows)
    bounds = sorted({0, len(rows), *[c for c in cuts if c < len(rows)]})
    for lo, hi in zip(bounds, bounds[1:]):
        ingest(engine, "signals", _parsed(rows[lo:hi]), Writer("admin"))
    _assert_section_matches(engine)
    # corrections: the same signal ids sent again with another status, receipt time or fill time
    corrected = {}
    for index, status, minute, lag_ms in resent:
        strategy, _s, reason, _m, _l = book[index % len(book)]
        corrected[index % len(book)] = _signal(index % len(book), strategy, status, reason, minute, lag_ms)
    if corrected:
        ingest(engine, "signals", _parsed(list(corrected.values())), Writer("admin"))
        _assert_section_matches(engine)
    # fills for signals sent without a fill time: their first fill's time becomes it
    with engine.connect() as conn:
        unstamped = [sid for (sid,) in conn.execute(text("SELECT signal_id FROM signals WHERE filled_at IS NULL "
                                                         "ORDER BY signal_id")).all()]
    chosen = sorted({unstamped[i % len(unstamped)] for i in fills}) if unstamped else []
    if chosen:
        with engine.connect() as conn:
            received = dict(conn.execute(text("SELECT signal_id, received_at FROM signals")).all())
        ingest(engine, "executions", _parsed([
            {"execution_id": f"e-{sid}", "signal_id": sid, "avg_fill_price": 100.0, "filled_quantity": 1,
             "filled_at": (pd.Timestamp(received[sid]) + pd.Timedelta(seconds=7)).isoformat()} for sid in chosen]),
            Writer("admin"))
        _assert_section_matches(engine)
    _assert_rebuild_keeps(engine)
    engine.dispose()


def test_on_postgresql_the_signal_rollups_follow_inserts_corrections_and_fills(postgres_url):
    _book(postgres_url)
    engine = configure_database(postgres_url)
    rng = np.random.default_rng(11)
    rows = [_signal(i, ["Alpha", "Beta"][i % 2], STATUSES[int(rng.integers(0, 4))], int(rng.integers(0, 3)),
                    int(rng.integers(0, 12 * 24 * 60)), None if i % 5 == 0 else int(rng.integers(0, 60_000)))
            for i in range(120)]
    for lo in range(0, len(rows), 50):
        ingest(engine, "signals", _parsed(rows[lo:lo + 50]), Writer("admin"))
    _assert_section_matches(engine)
    ingest(engine, "signals", _parsed([_signal(i, ["Alpha", "Beta"][i % 2], "FILLED", 0, 600 + i, 1_500)
                                       for i in range(0, 120, 7)]), Writer("admin"))
    _assert_section_matches(engine)
    _assert_rebuild_keeps(engine)
    engine.dispose()
