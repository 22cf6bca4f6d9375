"""The book: target positions to orders, fills, trades and equity, for one run or for many at once
(a sweep's configurations are the rows of one matrix of target positions).

Only `settle` is sequential, because an order's size ``floor(equity * fraction / price)`` depends on
the equity every earlier fill left. Everything before it (which bar fills, at what price) and after
it (trades, costs, the equity curve) is vectorised over all rows. `settle` walks one run's orders in
a loop (compiled with numba when the run is long: `analytics.compiled`), and many short runs' orders
in step: the k-th order of every run in one numpy operation.

Each amount is computed with the same operations, in the same order, as the bar-by-bar simulation
of `streaming`, so the two agree exactly, not merely to a tolerance.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass

import numpy as np

from analytics.backtest.results import Ledger, Settings
from analytics.backtest.strategies import FLAT
from analytics.compiled import compiled

_BPS = 10_000.0


@dataclass(frozen=True)
class Orders:
    """Every order of every row, row by row: order i fills at the open of bar ``bar[i]`` of row
    ``row[i]``; row r's orders are ``first[r]:first[r + 1]``."""

    rows: int
    bars: int
    row: np.ndarray
    bar: np.ndarray
    direction: np.ndarray  # the position wanted from this order on: +1, 0 or -1
    entry_price: np.ndarray  # the fill price of a new position in `direction`
    exit_price: np.ndarray  # the fill price closing the position held before this order
    first: np.ndarray


def orders_of(targets: np.ndarray, opens: np.ndarray, config: Settings) -> Orders:
    """The orders of each row of ``targets`` (rows x bars): a change of target at bar t is an order
    filled at bar t+1's open; none after the last bar."""
    rows, bars = targets.shape
    decided = targets[:, :-1]
    before = np.empty_like(decided)
    before[:, :1] = FLAT
    before[:, 1:] = decided[:, :-1]
    row, at = np.divmod(np.flatnonzero(decided != before), bars - 1)
    direction = decided[row, at].astype(np.int64)
    held = before[row, at].astype(np.int64)
    bar = at + 1
    price = opens[bar]
    # Settings.fill_price, elementwise: the same operations in the same order
    entry_price = price * (1.0 + direction * config.slippage_bps / _BPS)
    exit_price = price * (1.0 + -held * config.slippage_bps / _BPS)
    first = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=rows), out=first[1:])
    return Orders(rows, bars, row, bar, direction, entry_price, exit_price, first)


def settle(orders: Orders, config: Settings) -> tuple[np.ndarray, np.ndarray]:
    """The units held and the cash after each order (whole units, costs paid)."""
    steps = int(np.diff(orders.first).max(initial=0))
    if orders.row.size >= IN_STEP_ROWS * steps:
        return _settle_in_step(orders, config)
    held, cash = np.empty(orders.row.size), np.empty(orders.row.size)
    terms = (float(config.cash), float(config.fraction), float(config.commission_bps))
    for lo, hi in zip(orders.first[:-1].tolist(), orders.first[1:].tolist()):
        prices = orders.exit_price[lo:hi], orders.direction[lo:hi], orders.entry_price[lo:hi]
        loop = compiled(_settle_row) if hi - lo >= COMPILED_FROM else None
        if loop is not None:
            loop(*prices, *terms, held[lo:hi], cash[lo:hi])
        else:
            row_held, row_cash = [0.0] * (hi - lo), [0.0] * (hi - lo)
            _settle_row(*(column.tolist() for column in prices), *terms, row_held, row_cash)
            held[lo:hi], cash[lo:hi] = row_held, row_cash
    return held.astype(np.int64), cash


IN_STEP_ROWS = 32  # rows settled per step, on average, from which a step beats a row's plain loop
COMPILED_FROM = 10_000  # orders in a row from which its loop is compiled (docs/design.md: what numba costs)


def _settle_row(exit_price: Sequence[float], direction: Sequence[int], entry_price: Sequence[float], cash: float,
                fraction: float, bps: float, held: MutableSequence[float], cash_after: MutableSequence[float]) -> None:
    """One row's orders in order, into ``held`` and ``cash_after``: lists as plain Python, arrays when
    compiled. Sizes are whole numbers held as floats (``// 1.0`` is an exact floor); a flat book closes
    and opens nothing: it adds and subtracts exact zeros."""
    units = size = 0.0
    for i in range(len(held)):
        cash += units * exit_price[i] - size * exit_price[i] * bps / _BPS
        size = cash * fraction / entry_price[i] // 1.0
        if size > 0.0 and direction[i]:
            units = direction[i] * size
            cash -= units * entry_price[i] + size * entry_price[i] * bps / _BPS
        else:
            units = size = 0.0
        held[i] = units
        cash_after[i] = cash


def _settle_in_step(orders: Orders, config: Settings) -> tuple[np.ndarray, np.ndarray]:
    """`_settle_row` for every row at once: step k settles the k-th order of each row that has one."""
    step = np.arange(orders.row.size) - orders.first[orders.row]
    by_step = np.lexsort((orders.row, step))
    bounds = np.searchsorted(step[by_step], np.arange(step.max(initial=-1) + 2))
    cash = np.full(orders.rows, float(config.cash))
    units = np.zeros(orders.rows)
    held = np.zeros(orders.row.size)
    cash_after = np.zeros(orders.row.size)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        which = by_step[lo:hi]
        row = orders.row[which]
        exit_price, price = orders.exit_price[which], orders.entry_price[which]
        money = cash[row] + (units[row] * exit_price - np.abs(units[row]) * exit_price * config.commission_bps / _BPS)
        size = money * config.fraction / price // 1.0
        size[(size <= 0.0) | (orders.direction[which] == FLAT)] = 0.0
        now = orders.direction[which] * size
        money -= now * price + size * price * config.commission_bps / _BPS
        units[row], cash[row] = now, money
        held[which], cash_after[which] = now, money
    return held.astype(np.int64), cash_after


def ledger_of(orders: Orders, held: np.ndarray, last_close: float, config: Settings) -> Ledger:
    """Each position from the order that opened it to the next order of its row, or to the last
    bar's close (``closed_at_end``)."""
    opened = np.flatnonzero(held)
    row = orders.row[opened]
    units = held[opened]
    side = np.sign(units)
    following = opened + 1
    at_end = following == orders.first[row + 1]
    following[at_end] = opened[at_end]  # any valid index: replaced below
    exit_bar = np.where(at_end, orders.bars - 1, orders.bar[following])
    exit_price = np.where(at_end, last_close * (1.0 + -side * config.slippage_bps / _BPS),
                          orders.exit_price[following])
    entry_price = orders.entry_price[opened]
    size = np.abs(units)
    entry_fee = np.abs(size * entry_price) * config.commission_bps / _BPS
    exit_fee = np.abs(units * exit_price) * config.commission_bps / _BPS
    pnl = units * (exit_price - entry_price) - entry_fee - exit_fee
    return Ledger(row, side, size, orders.bar[opened], entry_price, exit_bar, exit_price, pnl,
                  entry_fee + exit_fee, at_end)


def equity_of(orders: Orders, held: np.ndarray, cash: np.ndarray, ledger: Ledger, close: np.ndarray,
              config: Settings) -> np.ndarray:
    """Each row's equity at every bar's close (rows x bars); a position still open at the end is
    closed at the last close, with its costs."""
    rows, bars = orders.rows, orders.bars
    # Each row's book from its start (index first[r] + r), then after each order (i + row[i] + 1).
    starts = orders.first[:-1] + np.arange(rows)
    after = np.arange(orders.row.size) + orders.row + 1
    book_cash = np.full(orders.row.size + rows, float(config.cash))
    book_units = np.zeros(orders.row.size + rows)
    book_cash[after], book_units[after] = cash, held
    since = np.zeros(book_cash.size, dtype=np.int64)
    since[after] = orders.bar
    until = np.empty_like(since)
    until[:-1] = since[1:]
    until[starts[1:] - 1] = bars
    until[-1] = bars
    lengths = until - since
    equity = np.repeat(book_units, lengths).reshape(rows, bars)
    equity *= close
    equity += np.repeat(book_cash, lengths).reshape(rows, bars)
    closing = ledger.closed_at_end
    end_rows = ledger.row[closing]
    units = ledger.side[closing] * ledger.size[closing]
    notional = units * ledger.exit_price[closing]
    last_cash = cash[orders.first[end_rows + 1] - 1]
    equity[end_rows, -1] = last_cash + (notional - np.abs(notional) * config.commission_bps / _BPS)
    return equity
