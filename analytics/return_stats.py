"""The statistics of per-row returns that several metrics share (`metrics` uses them), each computed
once, in one scratch array."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np


class ReturnStats:
    """Per-row returns and the statistics several metrics share, each computed once on first use.

    The statistics work in one scratch array the size of the returns, in turn: on a long curve a fresh
    array costs more (the memory's first touch) than the arithmetic done in it.
    """

    def __init__(self, r: np.ndarray, rf_p: float = 0.0) -> None:
        self.r, self.rf_p = r, rf_p
        self.count = r.shape[1]
        self._quantiles: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def undefined(self, below: int) -> np.ndarray | None:
        """All NaN with fewer than ``below`` returns, else None."""
        return np.full(self.r.shape[0], np.nan) if self.count < below else None

    @cached_property
    def _scratch(self) -> np.ndarray:
        return np.empty_like(self.r)

    def _std(self, x: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """Sample standard deviation (ddof=1) of each row."""
        deviation = np.subtract(x, mean[:, np.newaxis], out=self._scratch)
        return np.sqrt(np.einsum("ij,ij->i", deviation, deviation) / (self.count - 1))

    @cached_property
    def mean(self) -> np.ndarray:
        return self.r.mean(axis=1)

    @cached_property
    def std(self) -> np.ndarray:
        return self._std(self.r, self.mean)

    @cached_property
    def excess(self) -> np.ndarray:
        """Returns over the per-period risk-free rate."""
        return self.r - self.rf_p if self.rf_p else self.r

    @cached_property
    def excess_mean(self) -> np.ndarray:
        return self.excess.mean(axis=1) if self.rf_p else self.mean

    @cached_property
    def excess_std(self) -> np.ndarray:
        return self._std(self.excess, self.excess_mean) if self.rf_p else self.std

    @cached_property
    def downside(self) -> tuple[np.ndarray, np.ndarray]:
        """``sqrt(sum(min(x, 0)^2) / n)`` of the excess returns x, and whether any is below zero."""
        below = np.minimum(self.excess, 0.0, out=self._scratch)
        return np.sqrt(np.einsum("ij,ij->i", below, below) / self.count), below.min(axis=1) < 0

    def quantile(self, p: float) -> np.ndarray:
        """``np.quantile(r, p, axis=1)`` (linear interpolation), from one partial sort per level."""
        return self._tail(p)[0]

    def tail_mean(self, p: float) -> np.ndarray:
        """The mean of the returns at or below the ``p`` quantile."""
        return self._tail(p)[1]

    def _tail(self, p: float) -> tuple[np.ndarray, np.ndarray]:
        if p not in self._quantiles:
            position = (self.count - 1) * p
            lo = math.floor(position)
            part = self._selected(lo)
            below, above = part[:, :lo + 1], part[:, lo + 1:]
            a, t = part[:, lo], position - lo
            b = above.min(axis=1) if above.size else a
            # numpy's own interpolation, exact at both ends
            q = b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t
            # Everything in `below` is at most a <= q; in `above`, at least b >= q, so at most q only if equal to it.
            ties = (above == q[:, np.newaxis]).sum(axis=1) if (q == b).any() else 0
            self._quantiles[p] = q, (below.sum(axis=1) + ties * q) / (lo + 1 + ties)
        return self._quantiles[p]

    def _selected(self, lo: int) -> np.ndarray:
        """Rows with their ``lo``-th smallest return at ``lo``, none larger before it and none smaller
        after: the rows themselves, or a single row's losses alone when they hold its ``lo + 2``
        smallest returns (a low quantile nearly always lies among them).

        Selecting one order statistic, numpy is ten times slower when it falls in a large block of
        equal values (the zero returns of a book flat most of the time), so a whole row is selected at
        ``lo`` and ``lo + 1``, as np.quantile does, at about twice the cost on returns without ties.
        """
        if self.r.shape[0] == 1:
            losses = self.r[self.r < 0]
            if losses.size >= lo + 2:
                losses.partition(lo)
                return losses[np.newaxis]
        part = self._scratch
        np.copyto(part, self.r)
        part.partition(sorted({lo, min(lo + 1, self.count - 1)}), axis=1)
        return part
