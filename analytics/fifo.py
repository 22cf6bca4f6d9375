"""FIFO lot matching: closed trades and open positions derived from fills.

``derive(group, time, quantity, price, commission, initial=None)`` takes the fills of many groups
(a group is one strategy and symbol) as columns sorted by (group, time, tie-break key), with a
signed quantity (+ buy, - sell), and returns:

- ``closed``: one row per closed piece (a part of an open lot closed by a part of a later fill),
  with its side, quantity, entry and exit price and time, commission and realized PnL, and the
  indexes of its entry and exit fill;
- ``open_lots``: the lots still open, oldest first within their group;
- ``positions``: one row per group with open lots: signed quantity, quantity-weighted average
  entry price, and the time of the oldest open lot.

Conventions:

- A fill against an open position closes the oldest lots first; a fill larger than the position
  closes it and opens the remainder the other way (a flip).
- Commission is pro rata to quantity: a closed piece of size x carries
  ``entry_commission * x / entry_qty + exit_commission * x / exit_qty`` of its two fills, so a
  flipping fill's commission is split between the part that closes and the lot it opens.
- ``realized_pnl = dir * x * (exit_price - entry_price) - commission`` (dir +1 long, -1 short).
- Quantities are floats: a remaining quantity within ``EPS`` of zero is zero.

``initial`` continues a derivation: open lots (as ``open_lots`` returned them, or read back from
storage) that come before every fill of their group. A closed piece or open lot that started in
an initial lot has ``entry_fill = -1 - j``, j its row in ``initial``; a lot's ``commission`` is
that of its remaining quantity, so continuing equals deriving the whole sequence at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["EPS", "ClosedTrades", "Derivation", "OpenLots", "Positions", "derive", "positions_of"]

EPS = 1e-9


@dataclass(frozen=True)
class OpenLots:
    group: np.ndarray
    quantity: np.ndarray  # signed remaining quantity
    price: np.ndarray
    time: np.ndarray  # when the lot was opened
    commission: np.ndarray  # the entry commission of the remaining quantity
    entry_fill: np.ndarray  # index of the fill that opened it; -1 - j for row j of the initial lots

    def __len__(self) -> int:
        return int(self.group.size)


@dataclass(frozen=True)
class ClosedTrades:
    group: np.ndarray
    direction: np.ndarray  # int8: +1 long, -1 short
    quantity: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    opened_at: np.ndarray
    closed_at: np.ndarray
    commission: np.ndarray
    realized_pnl: np.ndarray
    entry_fill: np.ndarray  # as in OpenLots
    exit_fill: np.ndarray

    @property
    def side(self) -> np.ndarray:
        return np.where(self.direction > 0, "long", "short").astype(object)

    def __len__(self) -> int:
        return int(self.group.size)


@dataclass(frozen=True)
class Positions:
    group: np.ndarray
    quantity: np.ndarray  # signed
    entry_price: np.ndarray  # quantity-weighted average of the open lots
    opened_at: np.ndarray  # time of the oldest open lot

    def __len__(self) -> int:
        return int(self.group.size)


@dataclass(frozen=True)
class Derivation:
    closed: ClosedTrades
    open_lots: OpenLots
    positions: Positions


def _match(groups: list, quantities: list[float]) -> tuple[list[int], list[int], list[float], list[int], list[float]]:
    """The FIFO walk over fills of non-zero quantity. Returns the closed pieces (entry index, exit
    index, quantity) and the open lots (index, remaining quantity), indexes into the given rows."""
    eps = EPS
    remaining = [q if q >= 0.0 else -q for q in quantities]
    entry: list[int] = []
    exit_: list[int] = []
    size: list[float] = []
    open_rows: list[int] = []
    lots: deque[int] = deque()
    long = True  # the direction of ``lots`` while it is not empty
    current = None
    for i, q in enumerate(quantities):
        g = groups[i]
        if g != current:
            if lots:
                open_rows.extend(lots)
                lots.clear()
            current = g
        if not lots:
            lots.append(i)
            long = q > 0.0
            continue
        if (q > 0.0) is long:
            lots.append(i)
            continue
        x = remaining[i]
        while True:
            j = lots[0]
            r = remaining[j]
            if r <= x + eps:  # the lot closes whole
                entry.append(j)
                exit_.append(i)
                size.append(r)
                lots.popleft()
                x -= r
                if x <= eps:
                    break
                if not lots:  # a flip: the remainder opens a lot the other way
                    remaining[i] = x
                    lots.append(i)
                    long = not long
                    break
            else:
                entry.append(j)
                exit_.append(i)
                size.append(x)
                remaining[j] = r - x
                break
    if lots:
        open_rows.extend(lots)
    return entry, exit_, size, open_rows, [remaining[j] for j in open_rows]


def _empty_lots(time_dtype) -> OpenLots:
    return OpenLots(np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, time_dtype), np.empty(0),
                    np.empty(0, np.int64))


def derive(group, time, quantity, price, commission, initial: OpenLots | None = None) -> Derivation:
    """FIFO closed trades, open lots and positions of the fills (see the module docstring).

    ``group``: integer codes, sorted; ``time``: datetime64[us] or int epoch microseconds (the output
    times have the same dtype); ``quantity``: signed; ``price``, ``commission``: per fill."""
    group = np.asarray(group)
    time = np.asarray(time)
    quantity = np.asarray(quantity, dtype=np.float64)
    price = np.asarray(price, dtype=np.float64)
    commission = np.asarray(commission, dtype=np.float64)
    n = group.size
    if not (time.size == quantity.size == price.size == commission.size == n):
        raise ValueError("fill columns of different lengths")
    if n > 1 and np.any(group[1:] < group[:-1]):
        raise ValueError("fills must be sorted by group")
    if initial is None or len(initial) == 0:
        g, t, q, p, c = group, time, quantity, price, commission
        source = np.arange(n, dtype=np.int64)
    else:
        # the initial lots go first in their group: they are older than every fill of it
        k = len(initial)
        order = np.argsort(np.concatenate([initial.group, group]), kind="stable")
        g = np.concatenate([initial.group.astype(group.dtype, copy=False), group])[order]
        t = np.concatenate([initial.time.astype(time.dtype, copy=False), time])[order]
        q = np.concatenate([initial.quantity, quantity])[order]
        p = np.concatenate([initial.price, price])[order]
        c = np.concatenate([initial.commission, commission])[order]
        source = np.concatenate([-1 - np.arange(k, dtype=np.int64), np.arange(n, dtype=np.int64)])[order]

    abs_q = np.abs(q)
    live = abs_q > EPS
    if live.all():
        entry, exit_, size, open_rows, open_remaining = _match(g.tolist(), q.tolist())
        rows = None
    else:  # fills of no quantity change nothing
        rows = np.flatnonzero(live)
        entry, exit_, size, open_rows, open_remaining = _match(g[rows].tolist(), q[rows].tolist())

    e = np.asarray(entry, dtype=np.int64)
    x = np.asarray(exit_, dtype=np.int64)
    o = np.asarray(open_rows, dtype=np.int64)
    if rows is not None:
        e, x, o = rows[e], rows[x], rows[o]
    piece = np.asarray(size, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit_commission = np.where(abs_q > 0, c / abs_q, 0.0)
    direction = np.where(q[e] > 0, 1, -1).astype(np.int8)
    piece_commission = (unit_commission[e] + unit_commission[x]) * piece
    entry_price, exit_price = p[e], p[x]
    closed = ClosedTrades(
        group=g[e], direction=direction, quantity=piece, entry_price=entry_price, exit_price=exit_price,
        opened_at=t[e], closed_at=t[x], commission=piece_commission,
        realized_pnl=direction * piece * (exit_price - entry_price) - piece_commission,
        entry_fill=source[e], exit_fill=source[x],
    )

    left = np.asarray(open_remaining, dtype=np.float64)
    lots = OpenLots(group=g[o], quantity=np.where(q[o] > 0, left, -left), price=p[o], time=t[o],
                    commission=unit_commission[o] * left, entry_fill=source[o]) if o.size else _empty_lots(time.dtype)
    return Derivation(closed, lots, positions_of(lots))


def positions_of(lots: OpenLots) -> Positions:
    """One row per group of ``lots`` (grouped and oldest first, as ``derive`` returns them)."""
    if len(lots) == 0:
        return Positions(lots.group[:0], np.empty(0), np.empty(0), lots.time[:0])
    starts = np.flatnonzero(np.concatenate([[True], lots.group[1:] != lots.group[:-1]]))
    quantity = np.add.reduceat(lots.quantity, starts)
    value = np.add.reduceat(lots.quantity * lots.price, starts)
    return Positions(group=lots.group[starts], quantity=quantity, entry_price=value / quantity,
                     opened_at=lots.time[starts])
