"""A mergeable sketch of signal-to-fill lags with a relative error of at most 1 %.

Lags are counted in logarithmic buckets (the DDSketch layout): bucket ``i`` holds the lags in
``(GAMMA ** (i - 1), GAMMA ** i]`` with ``GAMMA = (1 + ALPHA) / (1 - ALPHA)``, and stands for
``2 * GAMMA ** i / (GAMMA + 1)``, which is within ``ALPHA`` (1 %) of every lag in it. A lag of 0
has a bucket of its own that stands for 0 exactly. Counts add, so a day's sketch is kept at write
time, a correction subtracts the old lag and adds the new one, and a range is the sum of its days.

Percentiles follow numpy's default (linear interpolation between the two closest ranks): the two
ranks are each read from the sketch, so the interpolated value is within 1 % of numpy's over the
same lags. The mean is exact (a sum of lags is kept beside the counts); the maximum is its bucket's
value, within 1 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ALPHA = 0.01
GAMMA = (1.0 + ALPHA) / (1.0 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
ZERO_BUCKET = -(2 ** 20)  # the bucket of lags of exactly 0 (clock skew clipped to 0 lands here too)
_DTYPE = np.dtype("<i4")


def stored_pairs(blobs) -> np.ndarray:
    """The (bucket, count) rows of stored sketches (``to_bytes``), one after the other, as int64."""
    return np.frombuffer(b"".join(bytes(b) for b in blobs), dtype=_DTYPE).reshape(-1, 2).astype(np.int64)


def bucket_of(lags: np.ndarray) -> np.ndarray:
    """The bucket index of each lag in seconds (>= 0)."""
    lags = np.asarray(lags, dtype=float)
    out = np.full(lags.shape, ZERO_BUCKET, dtype=np.int64)
    positive = lags > 0
    out[positive] = np.ceil(np.log(lags[positive]) / _LOG_GAMMA).astype(np.int64)
    return out


def bucket_value(buckets: np.ndarray) -> np.ndarray:
    """The value each bucket stands for (0 for the zero bucket)."""
    buckets = np.asarray(buckets, dtype=np.int64)
    values = 2.0 * np.power(GAMMA, buckets.astype(float)) / (GAMMA + 1.0)
    return np.where(buckets == ZERO_BUCKET, 0.0, values)


@dataclass
class LagSketch:
    """Counts per bucket (sparse: sorted bucket indexes and their counts), the number of lags and their sum."""

    buckets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    total: float = 0.0

    @classmethod
    def of(cls, lags: Any) -> LagSketch:
        lags = np.clip(np.asarray(lags, dtype=float), 0.0, None)
        buckets, counts = np.unique(bucket_of(lags), return_counts=True)
        return cls(buckets.astype(np.int64), counts.astype(np.int64), float(lags.sum()))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def merged(self, *others: LagSketch, signs: tuple[int, ...] | None = None) -> LagSketch:
        """This sketch plus (or minus, where ``signs`` says -1) the others; empty buckets dropped."""
        parts = [self, *others]
        weights = [1, *(signs or (1,) * len(others))]
        buckets = np.concatenate([p.buckets for p in parts])
        counts = np.concatenate([p.counts * w for p, w in zip(parts, weights)])
        keys, inverse = np.unique(buckets, return_inverse=True)
        summed = np.bincount(inverse, weights=counts, minlength=len(keys)).round().astype(np.int64)
        keep = summed != 0
        if (summed < 0).any():
            raise ValueError("a lag sketch cannot hold a negative count")
        return LagSketch(keys[keep], summed[keep], sum(p.total * w for p, w in zip(parts, weights)))

    def to_bytes(self) -> bytes:
        """Stored form: little-endian int32 pairs (bucket, count)."""
        return np.column_stack([self.buckets, self.counts]).astype(_DTYPE).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes, total: float = 0.0) -> LagSketch:
        pairs = stored_pairs([blob])
        return cls(pairs[:, 0].copy(), pairs[:, 1].copy(), float(total))

    def _at_ranks(self, ranks: np.ndarray) -> np.ndarray:
        """The value of the lags at 0-based ranks ``ranks`` in sorted order, as the sketch knows them."""
        ends = np.cumsum(self.counts)
        return bucket_value(self.buckets[np.searchsorted(ends, ranks, side="right")])

    def quantiles(self, qs: Any) -> list[float | None]:
        """numpy's linear-interpolation percentiles (``qs`` in 0..1), each within 1 %."""
        n = self.n
        if not n:
            return [None for _ in np.atleast_1d(qs)]
        h = np.asarray(qs, dtype=float) * (n - 1)
        low = np.floor(h).astype(np.int64)
        high = np.minimum(low + 1, n - 1)
        a, b = self._at_ranks(low), self._at_ranks(high)
        return [float(v) for v in a + (h - low) * (b - a)]

    def summary(self) -> dict[str, float | None]:
        """avg (exact), median, p95, p99 and max (each within 1 %), in seconds; Nones without lags."""
        keys = ("avg", "median", "p95", "p99", "max")
        n = self.n
        if not n:
            return dict.fromkeys(keys)
        p50, p95, p99 = self.quantiles([0.5, 0.95, 0.99])
        return dict(zip(keys, (self.total / n, p50, p95, p99, float(bucket_value(self.buckets[-1:])[0]))))

    def histogram(self, bins: int) -> dict[str, Any]:
        """Counts in ``bins`` equal bins from 0 to the p99 lag (or the max when that is tighter), each
        bucket counted at the value it stands for, and the count beyond as ``overflow``."""
        if not self.n:
            return {"bin_edges": [], "counts": [], "overflow": 0, "overflow_from": None}
        values = bucket_value(self.buckets)
        upper = self.quantiles([0.99])[0]
        if upper <= 0.0:
            upper = float(values.max()) or 1.0
        inside = values <= upper
        counts, edges = np.histogram(values[inside], bins=bins, range=(0.0, upper), weights=self.counts[inside])
        return {"bin_edges": [float(e) for e in edges], "counts": [int(c) for c in counts.round()],
                "overflow": int(self.counts[~inside].sum()), "overflow_from": upper}
