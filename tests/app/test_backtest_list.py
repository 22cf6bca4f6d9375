"""GET /api/v1/backtests: stored runs newest first by (created_at, id), paged by an opaque keyset
cursor, filtered by strategy, symbol, status and sweep; bad filters and cursors are 400s naming
the parameter."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlalchemy import select

from data_access.models import BacktestRun, BacktestSweep, RunStatus
from app.openapi import document
from tests.app.test_openapi import Spec
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures

SPEC = Spec(document())


@pytest.fixture
def analyst(demo_app, users):  # noqa: F811
    return signed_in(demo_app, "analyst", users["analyst"])


def stored_order(dash_app, **where) -> list[int]:
    """Every run id matching ``where`` (column == value), newest first, read straight from the table."""
    query = select(BacktestRun.id).order_by(BacktestRun.created_at.desc(), BacktestRun.id.desc())
    for column, value in where.items():
        query = query.where(getattr(BacktestRun, column) == value)
    with dash_app.server.extensions["tradeboard"].session() as session:
        return list(session.scalars(query))


def add_runs(dash_app, count: int, created_at: dt.datetime, **fields) -> list[int]:
    with dash_app.server.extensions["tradeboard"].session() as session:
        runs = [BacktestRun(strategy_kind=fields.get("strategy_kind", "sma_cross"), params={"fast": 5, "slow": 20 + i},
                            config_key=f"sma_cross fast=5 slow={20 + i}", symbol=fields.get("symbol", "SPY"), timeframe="1d",
                            start=dt.datetime(2024, 1, 2), end=dt.datetime(2024, 6, 28), cash=100_000.0,
                            status=fields.get("status", RunStatus.PENDING), created_at=created_at,
                            sweep_id=fields.get("sweep_id"))
                for i in range(count)]
        session.add_all(runs)
        session.flush()
        return [run.id for run in runs]


def walk(client, query: str = "", limit: int = 7, between_pages=None) -> list[int]:
    """Every run id the listing gives, page after page."""
    ids, cursor, pages = [], None, 0
    while True:
        url = f"/api/v1/backtests?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url)
        assert response.status_code == 200, response.data[:300]
        SPEC.check("GET", url, response)
        body = response.get_json()
        assert len(body["runs"]) <= limit and body["limit"] == limit
        ids += [run["id"] for run in body["runs"]]
        cursor, pages = body["next_cursor"], pages + 1
        if cursor is None:
            return ids
        assert body["runs"], "a page with a next cursor has runs"
        if between_pages:
            between_pages(pages)


def test_paging_walks_every_run_exactly_once_newest_first(demo_app, analyst):  # noqa: F811
    tied = dt.datetime(2031, 1, 1, 12, 0, 0)
    add_runs(demo_app, 10, tied)  # ten runs sharing one created_at straddle a page boundary at limit 7
    expected = stored_order(demo_app)
    assert len(expected) > 20
    ids = walk(analyst)
    assert ids == expected and len(set(ids)) == len(ids)
    assert ids[:10] == sorted(ids[:10], reverse=True)  # ties: the higher id first


def test_runs_stored_while_paging_neither_repeat_nor_hide_the_others(demo_app, analyst):  # noqa: F811
    before = stored_order(demo_app)
    newest = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=365)
    ids = walk(analyst, limit=9, between_pages=lambda page: add_runs(demo_app, 3, newest + dt.timedelta(minutes=page)))
    assert ids == before  # newer runs land before the cursor: a walk started earlier does not see them


def test_a_page_carries_the_run_summary_without_trades(demo_app, analyst):  # noqa: F811
    run = analyst.get("/api/v1/backtests?limit=1&status=COMPLETED").get_json()["runs"][0]
    full = analyst.get(f"/api/v1/backtests/{run['id']}").get_json()
    assert "trades" not in run and "equity_curve" not in run
    assert {k: full[k] for k in ("strategy", "symbol", "parameters", "status", "created_at")} == {
        k: run[k] for k in ("strategy", "symbol", "parameters", "status", "created_at")}
    assert run["sharpe_ratio"] == full["metrics"]["sharpe_ratio"]


def test_filters_narrow_the_runs_and_combine(demo_app, analyst):  # noqa: F811
    add_runs(demo_app, 2, dt.datetime(2031, 1, 1), strategy_kind="rsi_reversion", symbol="QQQ",
             status=RunStatus.FAILED)
    with demo_app.server.extensions["tradeboard"].session() as session:
        sweep = BacktestSweep(strategy_kind="sma_cross", spec={}, total=3)
        session.add(sweep)
        session.flush()
        sweep_id = sweep.id
    add_runs(demo_app, 3, dt.datetime(2030, 6, 1), sweep_id=sweep_id)
    cases = [
        ("&strategy=rsi_reversion", {"strategy_kind": "rsi_reversion"}),
        ("&symbol=qqq", {"symbol": "QQQ"}),
        ("&status=FAILED", {"status": RunStatus.FAILED}),
        ("&strategy=rsi_reversion&symbol=QQQ&status=FAILED",
         {"strategy_kind": "rsi_reversion", "symbol": "QQQ", "status": RunStatus.FAILED}),
        ("&symbol=NO-SUCH-SYMBOL", {"symbol": "NO-SUCH-SYMBOL"}),
        (f"&sweep={sweep_id}", {"sweep_id": sweep_id}),
        (f"&sweep={sweep_id}&status=FAILED", {"sweep_id": sweep_id, "status": RunStatus.FAILED}),
    ]
    for query, where in cases:
        expected = stored_order(demo_app, **where)
        assert walk(analyst, query, limit=50) == expected, query
    assert len(stored_order(demo_app, sweep_id=sweep_id)) == 3 and stored_order(demo_app, symbol="QQQ")
    assert stored_order(demo_app, status=RunStatus.COMPLETED) != stored_order(demo_app)


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD = [
    ("strategy=nope", "strategy"), ("status=done", "status"), ("status=completed", "status"),
    ("symbol=SP%20Y", "symbol"), ("symbol=" + "X" * 40, "symbol"),
    ("sweep=0", "sweep"), ("sweep=-3", "sweep"), ("sweep=1.5", "sweep"), ("sweep=99999999999999999999", "sweep"),
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"),
    ("cursor=nope", "cursor"), ("cursor=" + cursor_of('["2024-01-01T00:00:00", "7"]'), "cursor"),
    ("cursor=" + cursor_of('["yesterday", 7]'), "cursor"), ("cursor=" + cursor_of('{"a": 1}'), "cursor"),
    ("cursor=" + cursor_of('["2024-01-01T00:00:00+00:00", 7]'), "cursor"), ("cursor=" + "A" * 300, "cursor"),
]


def test_a_bad_filter_or_cursor_is_a_400_naming_the_parameter(demo_app, analyst):  # noqa: F811
    for query, parameter in BAD:
        response = analyst.get(f"/api/v1/backtests?{query}")
        assert response.status_code == 400, (query, response.data[:300])
        SPEC.check("GET", "/api/v1/backtests", response)
        error = response.get_json()["error"]
        assert error["code"] == "invalid_parameter" and error["details"]["parameter"] == parameter, query
    assert analyst.get("/api/v1/backtests?strategy=nope").get_json()["error"]["details"]["valid"][0] == "sma_cross"
    assert "COMPLETED" in analyst.get("/api/v1/backtests?status=x").get_json()["error"]["details"]["valid"]
