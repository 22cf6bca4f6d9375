"""In-sample pick, out-of-sample check: the split, its no-look-ahead claim and the recommendation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import backtest as bt
from analytics import optimization as opt
from analytics.metrics import returns, sharpe_ratio


def random_walk_bars(n: int = 400, seed: int = 3) -> bt.Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    return bt.make_bars(time=pd.date_range("2022-01-03", periods=n, freq="B"), open=open_,
                        high=np.maximum(open_, close) * 1.002, low=np.minimum(open_, close) * 0.998, close=close)


def test_split_keeps_at_least_two_bars_each_side():
    assert opt.split_index(10) == 7 and opt.split_index(100) == 70 and opt.split_index(4) == 2
    with pytest.raises(ValueError):
        opt.split_index(3)
    with pytest.raises(ValueError):
        opt.split_index(10, 1.0)


def test_in_sample_sharpe_is_what_a_backtest_stopped_at_the_split_would_report():
    bars = random_walk_bars()
    full = bt.run(bars, "sma_cross", {"fast": 5, "slow": 20})
    result = opt.in_and_out_of_sample(full.equity, bars.time)
    k = result["split_bar"]
    stopped = bt.run(bars[:k], "sma_cross", {"fast": 5, "slow": 20})
    assert result["in_sample_sharpe"] == pytest.approx(sharpe_ratio(returns(stopped.equity)))
    assert result["out_of_sample_sharpe"] == pytest.approx(sharpe_ratio(returns(full.equity[k - 1:])))
    assert result["in_sample_window"][1] < result["out_of_sample_window"][0]


def member(config, symbol, inside, outside):
    return {"configuration": config, "parameters": {"name": config}, "symbol": symbol, "in_sample_sharpe": inside,
            "out_of_sample_sharpe": outside}


def test_recommend_picks_in_sample_and_shows_how_it_did_out_of_sample():
    picked = opt.recommend([
        member("A", "SPY", 2.5, -0.4), member("A", "QQQ", 1.5, -0.6),  # best in-sample (2.0), worst after
        member("B", "SPY", 1.0, 0.9), member("B", "QQQ", 1.0, 0.7),
        member("C", "SPY", None, None),  # too few trades to have a Sharpe
    ])
    assert picked["configuration"] == "A" and picked["symbols"] == ["QQQ", "SPY"]
    assert picked["in_sample_sharpe"] == pytest.approx(2.0) and picked["out_of_sample_sharpe"] == pytest.approx(-0.5)
    assert picked["sharpe_decay"] == pytest.approx(2.5) and picked["out_of_sample_rank"] == 2
    assert picked["best_out_of_sample_configuration"] == "B" and picked["best_out_of_sample_sharpe"] == pytest.approx(0.8)
    assert picked["candidates"] == 3


def test_nothing_to_recommend_with_fewer_than_two_scored_configurations():
    assert opt.recommend([member("A", "SPY", 1.0, 0.5), member("B", "SPY", None, 0.2)]) is None
    assert opt.recommend([]) is None
