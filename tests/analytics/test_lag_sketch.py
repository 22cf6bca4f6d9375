"""The lag sketch's percentiles against numpy's linear-interpolation percentiles over the same lags:
within 1 % on random data of many shapes; merging and subtracting sketches is exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.lag_sketch import ALPHA, LagSketch

QS = [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0]


def _lags(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "lognormal":
        return rng.lognormal(mean=0.0, sigma=1.5, size=n)
    if kind == "uniform":
        return rng.uniform(0.001, 120.0, size=n)
    if kind == "pareto":  # a heavy tail: a few fills minutes late
        return (rng.pareto(1.2, size=n) + 1) * 0.05
    if kind == "with_zeros":  # clock skew clipped to 0 beside real lags
        lags = rng.exponential(2.0, size=n)
        lags[rng.random(n) < 0.3] = 0.0
        return lags
    return np.round(rng.uniform(0, 5, size=n), 6)  # microsecond stamps


def _close(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= ALPHA * abs(exact) + 1e-12


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["lognormal", "uniform", "pareto", "with_zeros", "micro"]),
       n=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1))
def test_percentiles_within_one_percent_of_numpy(kind, n, seed):
    lags = _lags(kind, n, seed)
    sketch = LagSketch.of(lags)
    for q, estimate in zip(QS, sketch.quantiles(QS)):
        exact = float(np.quantile(lags, q))  # numpy's default: linear interpolation
        assert _close(estimate, exact), (q, estimate, exact)
    summary = sketch.summary()
    assert summary["avg"] == pytest.approx(float(lags.mean()), rel=1e-12, abs=1e-12)  # the mean is exact
    assert _close(summary["max"], float(lags.max()))
    assert _close(summary["p99"], float(np.quantile(lags, 0.99)))


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.integers(0, 400), min_size=1, max_size=6), seed=st.integers(0, 2**32 - 1))
def test_days_merged_equal_the_range_sketched_at_once_and_a_day_taken_away_leaves_the_rest(parts, seed):
    rng = np.random.default_rng(seed)
    days = [rng.lognormal(0.5, 1.0, size=k) for k in parts]
    whole = LagSketch.of(np.concatenate(days))
    merged = LagSketch.of(days[0]).merged(*[LagSketch.of(d) for d in days[1:]])
    assert merged.buckets.tolist() == whole.buckets.tolist() and merged.counts.tolist() == whole.counts.tolist()
    assert merged.total == pytest.approx(whole.total)
    rest = merged.merged(LagSketch.of(days[0]), signs=(-1,))
    alone = LagSketch.of(np.concatenate(days[1:])) if len(days) > 1 else LagSketch()
    assert rest.buckets.tolist() == alone.buckets.tolist() and rest.counts.tolist() == alone.counts.tolist()
    stored = LagSketch.from_bytes(whole.to_bytes(), whole.total)
    assert stored.quantiles(QS) == whole.quantiles(QS)


def test_an_empty_sketch_says_nothing_and_taking_away_more_than_there_is_is_refused():
    empty = LagSketch()
    assert empty.summary() == dict.fromkeys(("avg", "median", "p95", "p99", "max"))
    assert empty.histogram(20) == {"bin_edges": [], "counts": [], "overflow": 0, "overflow_from": None}
    with pytest.raises(ValueError):
        LagSketch.of([1.0]).merged(LagSketch.of([1.0, 1.0]), signs=(-1,))


def test_the_histogram_counts_every_fill_once_up_to_p99_and_the_rest_as_overflow():
    lags = np.random.default_rng(3).lognormal(0, 1, size=5000)
    histogram = LagSketch.of(lags).histogram(20)
    assert len(histogram["counts"]) == 20 and len(histogram["bin_edges"]) == 21
    assert sum(histogram["counts"]) + histogram["overflow"] == 5000
    exact_overflow = int((lags > np.quantile(lags, 0.99)).sum())
    assert abs(histogram["overflow"] - exact_overflow) <= 0.01 * 5000
    assert _close(histogram["overflow_from"], float(np.quantile(lags, 0.99)))
