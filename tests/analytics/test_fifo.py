"""FIFO derivation of closed trades and positions, checked against an independent FIFO in exact
arithmetic (a deque of lots in ``Fraction``s, one group at a time)."""

from __future__ import annotations

from collections import defaultdict, deque
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.fifo import OpenLots, derive

# --------------------------------------------------------------------------- the reference


def reference_fifo(fills):
    """fills: (group, signed qty, price, commission) in order. Returns the closed pieces as
    (group, entry index, exit index, direction, qty, commission, pnl) and the open lots per group as
    (entry index, signed remaining), all in Fractions."""
    books: dict[int, deque] = defaultdict(deque)  # group -> [entry index, signed remaining]
    pieces = []
    for i, (group, qty, price, commission) in enumerate(fills):
        qty = Fraction(qty)
        if qty == 0:
            continue
        book = books[group]
        while qty != 0 and book and (book[0][1] > 0) != (qty > 0):
            lot = book[0]
            j = lot[0]
            take = min(abs(lot[1]), abs(qty))
            direction = 1 if lot[1] > 0 else -1
            entry_qty, entry_price, entry_commission = abs(Fraction(fills[j][1])), Fraction(fills[j][2]), Fraction(fills[j][3])
            charged = Fraction(entry_commission) * take / entry_qty + Fraction(commission) * take / abs(Fraction(fills[i][1]))
            pnl = direction * take * (Fraction(price) - entry_price) - charged
            pieces.append((group, j, i, direction, take, charged, pnl))
            lot[1] -= direction * take
            qty += direction * take
            if lot[1] == 0:
                book.popleft()
        if qty != 0:
            book.append([i, qty])
    lots = {g: [(j, q) for j, q in book] for g, book in books.items() if book}
    return pieces, lots


def columns(fills):
    group = np.array([f[0] for f in fills], dtype=np.int64)
    quantity = np.array([float(f[1]) for f in fills])
    price = np.array([float(f[2]) for f in fills])
    commission = np.array([float(f[3]) for f in fills])
    time = (np.arange(len(fills), dtype=np.int64) * 1_000_000).astype("datetime64[us]")
    return group, time, quantity, price, commission


def assert_matches_reference(fills, result):
    pieces, lots = reference_fifo(fills)
    closed = result.closed
    assert len(closed) == len(pieces)
    for k, (group, j, i, direction, take, charged, pnl) in enumerate(pieces):
        assert (closed.group[k], closed.entry_fill[k], closed.exit_fill[k], closed.direction[k]) == (group, j, i, direction)
        assert closed.quantity[k] == pytest.approx(float(take), abs=1e-9)
        assert closed.commission[k] == pytest.approx(float(charged), abs=1e-9)
        assert closed.realized_pnl[k] == pytest.approx(float(pnl), abs=1e-7)
        assert closed.entry_price[k] == float(fills[j][2]) and closed.exit_price[k] == float(fills[i][2])
    expected_lots = [(g, j, q) for g in sorted(lots) for j, q in lots[g]]
    got_lots = list(zip(result.open_lots.group.tolist(), result.open_lots.entry_fill.tolist(),
                        result.open_lots.quantity.tolist()))
    assert [(g, j) for g, j, _ in got_lots] == [(g, j) for g, j, _ in expected_lots]
    for (_, _, got), (_, _, want) in zip(got_lots, expected_lots):
        assert got == pytest.approx(float(want), abs=1e-9)
    positions = result.positions
    assert positions.group.tolist() == sorted(lots)
    for k, g in enumerate(sorted(lots)):
        signed = sum(q for _, q in lots[g])
        average = sum(q * Fraction(fills[j][2]) for j, q in lots[g]) / signed
        assert positions.quantity[k] == pytest.approx(float(signed), abs=1e-9)
        assert positions.entry_price[k] == pytest.approx(float(average), rel=1e-12)
        assert positions.opened_at[k] == np.datetime64(lots[g][0][0] * 1_000_000, "us")


# quantities in eighths and prices in cents: exact in binary floating point where it matters
quantities = st.integers(-40, 40).filter(bool).map(lambda k: Fraction(k, 8))
fill = st.tuples(st.integers(0, 3), quantities, st.integers(100, 20_000).map(lambda c: Fraction(c, 100)),
                 st.integers(0, 500).map(lambda c: Fraction(c, 100)))
fill_lists = st.lists(fill, min_size=0, max_size=60).map(lambda fs: sorted(fs, key=lambda f: f[0]))


@settings(max_examples=300, deadline=None)
@given(fill_lists)
def test_random_fill_sequences_match_an_independent_fifo(fills):
    assert_matches_reference(fills, derive(*columns(fills)))


@settings(max_examples=200, deadline=None)
@given(fill_lists, st.integers(0, 60))
def test_continuing_from_the_open_lots_equals_deriving_the_whole_sequence(fills, cut):
    group, time, quantity, price, commission = columns(fills)
    whole = derive(group, time, quantity, price, commission)
    before = np.flatnonzero(np.arange(len(fills)) < cut)
    after = np.flatnonzero(np.arange(len(fills)) >= cut)
    first = derive(group[before], time[before], quantity[before], price[before], commission[before])
    second = derive(group[after], time[after], quantity[after], price[after], commission[after],
                    initial=first.open_lots)

    def original_entry(entry_fill: int) -> int:  # a lot carried over began in the first part
        return int(after[entry_fill]) if entry_fill >= 0 else int(before[first.open_lots.entry_fill[-1 - entry_fill]])

    joined = sorted(
        [(int(g), int(before[e]), int(before[x]), q, c, p) for g, e, x, q, c, p in zip(
            first.closed.group, first.closed.entry_fill, first.closed.exit_fill, first.closed.quantity,
            first.closed.commission, first.closed.realized_pnl)]
        + [(int(g), original_entry(e), int(after[x]), q, c, p) for g, e, x, q, c, p in zip(
            second.closed.group, second.closed.entry_fill, second.closed.exit_fill, second.closed.quantity,
            second.closed.commission, second.closed.realized_pnl)],
        key=lambda r: (r[0], r[2], r[1]))
    assert [r[:3] for r in joined] == list(zip(whole.closed.group.tolist(), whole.closed.entry_fill.tolist(),
                                               whole.closed.exit_fill.tolist()))
    assert np.allclose(np.array([r[3:] for r in joined], dtype=float).reshape(-1, 3), np.column_stack(
        [whole.closed.quantity, whole.closed.commission, whole.closed.realized_pnl]), atol=1e-9)
    assert second.positions.group.tolist() == whole.positions.group.tolist()
    assert np.allclose(second.positions.quantity, whole.positions.quantity, atol=1e-9)
    assert np.allclose(second.positions.entry_price, whole.positions.entry_price)
    assert (second.positions.opened_at == whole.positions.opened_at).all()
    assert np.allclose(second.open_lots.commission, whole.open_lots.commission, atol=1e-12)


# --------------------------------------------------------------------------- hand cases


def test_a_fill_that_flips_a_position_closes_it_and_opens_the_remainder_the_other_way():
    fills = [(0, 10, 100, 1.0), (0, -15, 110, 3.0), (0, 5, 105, 0.5)]
    result = derive(*columns(fills))
    closed = result.closed
    assert closed.side.tolist() == ["long", "short"]
    assert closed.quantity.tolist() == [10, 5]
    assert closed.entry_fill.tolist() == [0, 1] and closed.exit_fill.tolist() == [1, 2]
    # the flipping fill's commission: 10/15 to the long it closes, 5/15 to the short it opens
    assert closed.commission.tolist() == pytest.approx([1.0 + 2.0, 1.0 + 0.5])
    assert closed.realized_pnl.tolist() == pytest.approx([10 * 10 - 3.0, 5 * 5 - 1.5])
    assert closed.entry_price.tolist() == [100, 110] and closed.exit_price.tolist() == [110, 105]
    assert len(result.positions) == 0


def test_a_flip_leaves_a_short_position_opened_by_the_flipping_fill():
    fills = [(0, 10, 100, 1.0), (0, -15, 110, 3.0)]
    result = derive(*columns(fills))
    assert result.positions.quantity.tolist() == [-5]
    assert result.positions.entry_price.tolist() == [110]
    assert result.positions.opened_at.tolist() == [np.datetime64(1_000_000, "us").item()]
    assert result.open_lots.commission.tolist() == pytest.approx([1.0])


def test_partial_closes_consume_the_oldest_lots_first():
    fills = [(0, 10, 100, 0.0), (0, 10, 102, 0.0), (0, -4, 105, 0.0), (0, -10, 101, 0.0)]
    result = derive(*columns(fills))
    closed = result.closed
    assert list(zip(closed.entry_fill.tolist(), closed.exit_fill.tolist(), closed.quantity.tolist())) == [
        (0, 2, 4), (0, 3, 6), (1, 3, 4)]
    assert closed.realized_pnl.tolist() == pytest.approx([4 * 5, 6 * 1, 4 * -1])
    assert result.positions.quantity.tolist() == [6]
    assert result.positions.entry_price.tolist() == [102]
    assert result.open_lots.entry_fill.tolist() == [1]


def test_a_short_is_closed_by_buys_with_the_pnl_of_a_short():
    fills = [(0, -3, 50, 0.3), (0, 3, 45, 0.6)]
    closed = derive(*columns(fills)).closed
    assert closed.side.tolist() == ["short"]
    assert closed.realized_pnl.tolist() == pytest.approx([3 * 5 - 0.9])


def test_decimal_quantities_that_net_to_zero_within_the_tolerance_leave_no_position():
    fills = [(0, 0.1, 30_000, 0.0), (0, 0.2, 30_100, 0.0), (0, -0.3, 30_200, 0.0), (0, 0.05, 30_000, 0.0)]
    result = derive(*columns(fills))
    assert len(result.closed) == 2
    assert result.open_lots.entry_fill.tolist() == [3]
    assert result.positions.quantity.tolist() == pytest.approx([0.05])


def test_groups_keep_their_own_lots():
    fills = [(0, 5, 10, 0.0), (1, -5, 20, 0.0), (2, 1, 30, 0.0), (2, -1, 31, 0.0)]
    result = derive(*columns(fills))
    assert result.closed.group.tolist() == [2]
    assert result.positions.group.tolist() == [0, 1]
    assert result.positions.quantity.tolist() == [5, -5]


def test_integer_epoch_times_come_back_as_integers():
    group, _time, quantity, price, commission = columns([(0, 1, 10, 0.0), (0, -1, 11, 0.0)])
    closed = derive(group, np.array([5, 9], dtype=np.int64), quantity, price, commission).closed
    assert closed.opened_at.tolist() == [5] and closed.closed_at.tolist() == [9]


def test_initial_lots_are_consumed_before_the_new_fills():
    initial = OpenLots(group=np.array([7]), quantity=np.array([4.0]), price=np.array([100.0]),
                       time=np.array([1], dtype=np.int64), commission=np.array([0.4]), entry_fill=np.array([0]))
    result = derive(np.array([7, 7]), np.array([5, 6], dtype=np.int64), np.array([2.0, -5.0]),
                    np.array([101.0, 110.0]), np.array([0.2, 0.5]), initial=initial)
    closed = result.closed
    assert closed.entry_fill.tolist() == [-1, 0] and closed.quantity.tolist() == [4, 1]
    assert closed.commission.tolist() == pytest.approx([0.4 + 0.4, 0.1 + 0.1])
    assert result.positions.quantity.tolist() == [1]


def test_unsorted_groups_are_refused():
    with pytest.raises(ValueError, match="sorted"):
        derive(np.array([1, 0]), np.array([0, 1]), np.array([1.0, 1.0]), np.ones(2), np.zeros(2))
