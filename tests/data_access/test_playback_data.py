"""Replay chunks (data_access.playback.run_events) for a known small run stored in SQLite: the bars
cover the run's window in order, every fill lands on the bar where the engine's own ``stream`` puts
it (same type, side, price and size), chunks join without gaps, the equity is the stored curve,
events stay small on the wire, and errors are clear."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics import backtest as bt
from data_access import migrate, playback
from data_access.backtest_store import store_run
from data_access.bars_import import import_bars
from data_access.cache import sections
from data_access.db import configure_database

SYMBOL = "PLAY"
KIND, PARAMS = "sma_cross", {"fast": 5, "slow": 15, "allow_short": True}
N_BARS = 160
TTL = {"short": 30, "medium": 300, "long": 3600}


def small_bars(n: int = N_BARS, start: str = "2023-01-02") -> pd.DataFrame:
    """Daily bars of a wave with a drift: an SMA cross trades long and short several times."""
    i = np.arange(n)
    close = 100 + 12 * np.sin(i / 9.0) + 0.05 * i
    open_ = np.r_[close[0], close[:-1]] + 0.3 * np.cos(i)
    high = np.maximum(open_, close) + 0.8
    low = np.minimum(open_, close) - 0.8
    return pd.DataFrame({"time": pd.bdate_range(start, periods=n), "open": open_, "high": high, "low": low,
                         "close": close, "volume": 1000 + (i * 37) % 500})


def store_small_run(url: str, frame: pd.DataFrame | None = None, symbol: str = SYMBOL) -> tuple[int, bt.BacktestResult]:
    """Import the bars and store the engine's run over them; returns (run id, result)."""
    frame = small_bars() if frame is None else frame
    import_bars(url, frame, symbol)
    result = bt.run(bt.Bars.from_frame(frame), KIND, PARAMS, cash=100_000, commission_bps=1, slippage_bps=2)
    return store_run(url, result, symbol=symbol), result


def expected_events(frame: pd.DataFrame) -> list[list]:
    """[bar, code, price, size] of every fill, from the engine's bar-by-bar stream."""
    out = []
    for event in bt.stream(bt.Bars.from_frame(frame), KIND, PARAMS, cash=100_000, commission_bps=1, slippage_bps=2):
        for s in event["signals"]:
            code = (playback.ENTRY if s["type"] == "entry" else playback.EXIT)[s["side"]]
            out.append([event["bar"], code, s["price"], s["size"]])
    return out


@pytest.fixture
def stored(tmp_path, redis_url, redis_client):
    url = f"sqlite:///{tmp_path / 'playback.db'}"
    migrate.upgrade(url)
    engine = configure_database(url)
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl=TTL)
    run_id, result = store_small_run(url)
    yield run_id, result
    engine.dispose()


def test_chunks_cover_the_runs_window_and_join_without_gaps(stored):
    run_id, result = stored
    header = playback.run_header(run_id)
    assert header["total"] == N_BARS and header["symbol"] == SYMBOL and header["cash"] == 100_000
    chunks = [playback.run_events(run_id, start, 50) for start in range(0, N_BARS, 50)]
    assert [c["start"] for c in chunks] == [0, 50, 100, 150] and [c["count"] for c in chunks] == [50, 50, 50, 10]
    times = sum((c["t"] for c in chunks), [])
    assert times == [t.strftime("%Y-%m-%d") for t in pd.DatetimeIndex(result.bars.time)]
    closes = sum((c["c"] for c in chunks), [])
    assert closes == pytest.approx(result.bars.close.tolist(), abs=1e-4)
    equity = sum((c["eq"] for c in chunks), [])
    assert equity == pytest.approx(result.equity.tolist(), abs=0.01)
    assert playback.run_events(run_id, N_BARS, 50)["count"] == 0  # past the end: empty, not an error
    whole = playback.run_events(run_id, 0, 1000)
    assert whole["t"] == times and all(isinstance(v, int) for v in whole["v"])


def test_fills_land_on_the_engines_bars_with_its_prices_and_sizes(stored):
    run_id, result = stored
    expected = expected_events(small_bars())
    assert {e[1] for e in expected} == {"EL", "ES", "XL", "XS"}  # the run trades both ways
    for size in (1000, 37):  # one chunk, and chunks whose edges cut between trades' entries and exits
        got = sum((playback.run_events(run_id, start, size)["ev"] for start in range(0, N_BARS, size)), [])
        assert [e[:2] + [e[3]] for e in got] == [e[:2] + [e[3]] for e in expected]
        assert [e[2] for e in got] == pytest.approx([e[2] for e in expected], abs=1e-4)
    exits = [e for e in playback.run_events(run_id, 0, 1000)["ev"] if e[1][0] == "X"]
    assert [e[4] for e in exits] == pytest.approx([t.pnl for t in result.trades], abs=0.01)
    assert [e[0] for e in exits] == [t.exit_bar for t in result.trades]
    entries = [e for e in playback.run_events(run_id, 0, 1000)["ev"] if e[1][0] == "E"]
    assert [e[0] for e in entries] == [t.entry_bar for t in result.trades]


def test_events_average_well_under_300_bytes_on_the_wire(stored):
    run_id, _ = stored
    chunk = playback.run_events(run_id, 0, 1000)
    wire = len(json.dumps(chunk, separators=(",", ":")).encode())
    per_bar = wire / chunk["count"]
    assert per_bar < 300, per_bar
    assert per_bar < 120, per_bar  # bars, equity and fills together, per bar


def test_live_events_are_compact(stored):
    frame = small_bars()
    sizes = [len(playback.live_event(e, clock=False).encode())
             for e in bt.stream(bt.Bars.from_frame(frame), KIND, PARAMS, cash=100_000)]
    assert sum(sizes) / len(sizes) < 300 and max(sizes) < 300, (sum(sizes) / len(sizes), max(sizes))


def test_chunks_are_cached_and_errors_are_clear(stored):
    run_id, _ = stored
    first = playback.run_events.fetch(run_id, 0, 50)
    again = playback.run_events.fetch(run_id, 0, 50)
    assert again.cached and again.value == first.value
    with pytest.raises(playback.PlaybackNotFound):
        playback.run_events(run_id + 999, 0, 50)
    for start, count in ((-1, 10), (0, 0), (0, playback.MAX_CHUNK + 1)):
        with pytest.raises(playback.InvalidChunk):
            playback.run_events(run_id, start, count)
    assert any(r["id"] == run_id for r in playback.recent_runs())


def test_live_requests_are_validated_with_the_valid_choices(stored):
    ok = playback.parse_live_request({"symbol": SYMBOL.lower(), "strategy": "sma_cross", "params": {"fast": "3"},
                                      "cash": 5000})
    assert ok["symbol"] == SYMBOL and ok["params"]["fast"] == 3 and ok["cash"] == 5000.0
    with pytest.raises(bt.UnknownStrategy, match="valid kinds: sma_cross"):
        playback.parse_live_request({"symbol": SYMBOL, "strategy": "nope"})
    with pytest.raises(bt.InvalidParameters, match="Valid parameters"):
        playback.parse_live_request({"symbol": SYMBOL, "strategy": "sma_cross", "params": {"fast": 50, "slow": 10}})
    with pytest.raises(ValueError, match=f"valid symbols: {SYMBOL}"):
        playback.parse_live_request({"symbol": "ZZZ", "strategy": "sma_cross"})
    with pytest.raises(ValueError, match="cash"):
        playback.parse_live_request({"symbol": SYMBOL, "strategy": "sma_cross", "cash": -1})
