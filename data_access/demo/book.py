"""The demo book: signals and their executions per strategy profile, and the account snapshots
that follow from the FIFO derivation of those executions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analytics import fifo
from data_access.demo.fund import (
    ACCOUNTS, CANCELLED, FILLED, FUND_CAPITAL, PENDING, REJECT_REASONS, REJECTED, STRATEGIES, StrategyProfile,
    _commission,
)
from data_access.demo.market import SYMBOL_INDEX, SYMBOLS, Market, _in_range, _units
from data_access.demo.scales import SESSION_SECONDS, US, Scale


@dataclass
class Book:
    """Everything about live trading, as flat numpy columns."""

    # signals
    sig_strategy: np.ndarray
    sig_symbol: np.ndarray
    sig_side: np.ndarray  # 0 BUY, 1 SELL
    sig_qty: np.ndarray
    sig_received: np.ndarray  # epoch us
    sig_status: np.ndarray
    sig_reason: np.ndarray  # index into REJECT_REASONS, -1 none
    sig_filled: np.ndarray  # epoch us, -1 none
    # executions (exe_signal indexes the signal arrays)
    exe_signal: np.ndarray
    exe_time: np.ndarray
    exe_price: np.ndarray
    exe_qty: np.ndarray
    exe_commission: np.ndarray


def _lags(rng: np.random.Generator, p: StrategyProfile, n: int) -> np.ndarray:
    """Signal-to-fill seconds: a lognormal body and a few multi-minute stragglers (< 15 min)."""
    lag = p.lag_median * np.exp(p.lag_sigma * rng.standard_normal(n))
    outlier = rng.random(n) < p.lag_outliers
    tail = 60.0 * (1.0 + rng.pareto(1.5, int(outlier.sum())))
    lag[outlier] = np.where(tail > 880.0, rng.uniform(60.0, 880.0, tail.size), tail)  # truncated, no spike at the cap
    return np.round(np.clip(lag, 0.05, 880.0), 3)


def simulate_book(rng: np.random.Generator, market: Market, scale: Scale, last_signal_day: int) -> Book:
    parts: list[dict[str, np.ndarray]] = []
    weights = np.array([p.activity for p in STRATEGIES])
    trips = np.round(scale.round_trips * weights / weights.sum()).astype(int)
    parents = np.round(scale.trade_ideas * weights / weights.sum()).astype(int)
    for s, p in enumerate(STRATEGIES):
        parts.append(_strategy_book(rng, market, s, p, int(trips[s]), int(parents[s]), last_signal_day))
    return _merge(parts)


def _calibrate_hit_rate(target: float, luck: np.ndarray, move: np.ndarray, parent: np.ndarray,
                        unit_pnl: np.ndarray, commission: np.ndarray, day: np.ndarray, days: int) -> float:
    """Bisection on the hit rate so the strategy's annualized Sharpe of daily realized PnL is
    ``target`` for these very trades (same draws: the Sharpe grows with the hit rate)."""

    def sharpe(hit: float) -> float:
        pnl = np.where(luck < hit, move, -move)[parent] * unit_pnl - commission
        daily = np.bincount(day, weights=pnl, minlength=days)
        std = daily.std(ddof=1)
        return float(daily.mean() / std * math.sqrt(252.0)) if std > 0 else 0.0

    lo, hi = 0.02, 0.98
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if sharpe(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _strategy_book(rng: np.random.Generator, market: Market, s: int, p: StrategyProfile, n_trips: int,
                   n_parents: int, last_signal_day: int) -> dict[str, np.ndarray]:
    broker = ACCOUNTS[p.account][1]
    first = int(round(p.start * last_signal_day)) + 20
    last = last_signal_day - p.paused_days
    active_days = last - first + 1
    symbols = np.array([SYMBOL_INDEX[x] for x in p.symbols])
    capital = p.allocation * FUND_CAPITAL

    # ---- closed round trips. A trade idea (a "parent": symbol, direction, entry and exit day) is
    # worked as one or more child round trips at different times of those days. At demo scale each
    # parent has one child; at large scale a parent has dozens, so PnL and exposure keep the same
    # size and the Sharpe the same meaning while the signal count grows.
    n_parents = max(min(n_parents, n_trips), 1)
    p_sym = symbols[rng.integers(0, symbols.size, n_parents)]
    p_entry = rng.integers(first, last + 1, n_parents)
    hold = np.where(rng.random(n_parents) < p.intraday, 0, rng.geometric(1.0 / p.mean_hold, n_parents))
    p_exit = np.minimum(p_entry + hold, last)
    parent = np.sort(np.concatenate([np.arange(n_parents), rng.integers(0, n_parents, n_trips - n_parents)]))
    children = np.bincount(parent, minlength=n_parents)
    sym, entry_day, exit_day = p_sym[parent], p_entry[parent], p_exit[parent]
    same_day = exit_day == entry_day
    entry_off = np.where(same_day, rng.uniform(0, 3 * 3600, n_trips), rng.uniform(0, SESSION_SECONDS - 900, n_trips))
    exit_off = np.where(same_day, rng.uniform(3.25 * 3600, SESSION_SECONDS - 60, n_trips),
                        rng.uniform(0, SESSION_SECONDS - 900, n_trips))
    entry_px = _in_range(rng, market, sym, entry_day)
    exit_px = _in_range(rng, market, sym, exit_day)
    move = np.sign(np.bincount(parent, weights=exit_px - entry_px, minlength=n_parents))
    move[move == 0] = rng.choice([-1.0, 1.0], int((move == 0).sum()))
    luck = rng.random(n_parents)  # compared with the hit rate below

    # ---- a few open lots: one per (strategy, symbol), entered in the last days
    n_open = 0 if p.status != "ACTIVE" else min(symbols.size, 2 + int(rng.integers(0, 2)))
    open_sym = rng.permutation(symbols)[:n_open]
    open_day = last - rng.integers(0, 8, n_open)
    open_off = rng.uniform(0, SESSION_SECONDS - 900, n_open)
    open_px = _in_range(rng, market, open_sym, open_day)
    open_dir = rng.choice(np.array([-1, 1], dtype=np.int8), n_open, p=[0.3, 0.7])

    # ---- sizing: average gross exposure ~ exposure x allocated capital
    overnight = (p_exit - p_entry).sum() + 0.5 * (p_exit == p_entry).sum()
    concurrency = max(overnight / active_days, 1.0)
    # risk parity of a kind: volatile symbols get smaller lots (a 25 % vol asset takes the full size)
    vol_scale = np.minimum(1.0, 0.25 / np.array([x[2] for x in SYMBOLS]))
    notional = p.exposure * capital / concurrency
    p_notional = notional * vol_scale[p_sym] * np.exp(0.35 * rng.standard_normal(n_parents))
    qty = _units(p_notional[parent] / children[parent] * np.exp(0.2 * rng.standard_normal(n_trips)) / entry_px, sym)
    open_qty = _units(notional * vol_scale[open_sym] * np.exp(0.35 * rng.standard_normal(n_open)) / open_px, open_sym)

    # ---- the edge: the hit rate (chance of having picked the direction the price then went)
    # that gives the profile's Sharpe on daily realized PnL after commissions
    hit = _calibrate_hit_rate(p.sharpe, luck, move, parent, qty * (exit_px - entry_px),
                              _commission(broker, qty, entry_px) + _commission(broker, qty, exit_px),
                              exit_day - first, active_days)
    direction = np.where(luck < hit, move, -move).astype(np.int8)[parent]

    # ---- filled signals: entries, exits, open entries (local signal numbering)
    n_filled = 2 * n_trips + n_open
    f_sym = np.concatenate([sym, sym, open_sym])
    f_day = np.concatenate([entry_day, exit_day, open_day])
    f_off = np.concatenate([entry_off, exit_off, open_off])
    f_dir = np.concatenate([direction, -direction, open_dir])  # +1 buys
    f_qty = np.concatenate([qty, qty, open_qty])
    f_px = np.concatenate([entry_px, exit_px, open_px])
    f_received = market.session_open_us[f_day] + np.round(f_off * US).astype(np.int64)
    f_filled = f_received + np.round(_lags(rng, p, n_filled) * US).astype(np.int64)

    # executions: most signals fill at once, ~6 % in two partial fills a few seconds apart
    split = (rng.random(n_filled) < 0.06) & (f_qty >= 2)
    first_qty = np.where(split, _units(f_qty * rng.uniform(0.3, 0.7, n_filled), f_sym), f_qty)
    first_qty = np.where(first_qty >= f_qty, f_qty, first_qty)
    split &= first_qty < f_qty
    second_qty = np.round(f_qty - first_qty, 6)
    low, high = market.low[f_sym, f_day], market.high[f_sym, f_day]
    second_px = np.round(np.clip(f_px * (1 + 0.0008 * rng.standard_normal(n_filled)), low, high), 4)
    second_time = f_filled + np.round(rng.uniform(0.2, 5.0, n_filled) * US).astype(np.int64)
    idx = np.arange(n_filled)
    exe_signal = np.concatenate([idx, idx[split]])
    exe_time = np.concatenate([f_filled, second_time[split]])
    exe_price = np.concatenate([f_px, second_px[split]])
    exe_qty = np.concatenate([first_qty, second_qty[split]])
    exe_commission = _commission(broker, exe_qty, exe_price)

    # ---- signals that did not fill
    n_unfilled = int(round(n_filled * (1.0 - p.fill_rate) / p.fill_rate))
    n_pending = 0 if p.status != "ACTIVE" else int(rng.integers(1, 5))
    n_other = max(n_unfilled - n_pending, 0)
    u_status = np.where(rng.random(n_other) < 0.7, REJECTED, CANCELLED)
    u_status = np.concatenate([u_status, np.full(n_pending, PENDING)])
    u_sym = symbols[rng.integers(0, symbols.size, n_other + n_pending)]
    u_day = np.concatenate([rng.integers(first, last + 1, n_other), np.full(n_pending, last)])
    u_off = np.concatenate([rng.uniform(0, SESSION_SECONDS, n_other),
                            rng.uniform(SESSION_SECONDS - 2 * 3600, SESSION_SECONDS, n_pending)])
    u_received = market.session_open_us[u_day] + np.round(u_off * US).astype(np.int64)
    u_qty = _units(notional * vol_scale[u_sym] * np.exp(0.35 * rng.standard_normal(u_sym.size))
                   / market.close[u_sym, u_day], u_sym)
    reasons = np.array(p.reasons, dtype=float)
    reason = rng.choice(len(REJECT_REASONS), u_sym.size, p=reasons / reasons.sum())
    u_reason = np.where(u_status == REJECTED, reason, -1)

    n_sig = n_filled + u_sym.size
    out = {
        "sig_strategy": np.full(n_sig, s, dtype=np.int16),
        "sig_symbol": np.concatenate([f_sym, u_sym]).astype(np.int16),
        "sig_side": np.concatenate([(f_dir < 0).astype(np.int8), rng.integers(0, 2, u_sym.size).astype(np.int8)]),
        "sig_qty": np.concatenate([f_qty, u_qty]),
        "sig_received": np.concatenate([f_received, u_received]),
        "sig_status": np.concatenate([np.full(n_filled, FILLED), u_status]).astype(np.int8),
        "sig_reason": np.concatenate([np.full(n_filled, -1), u_reason]).astype(np.int8),
        "sig_filled": np.concatenate([f_filled, np.full(u_sym.size, -1, dtype=np.int64)]),
        "exe_signal": exe_signal,
        "exe_time": exe_time,
        "exe_price": exe_price,
        "exe_qty": exe_qty,
        "exe_commission": exe_commission,
    }
    return out


def _merge(parts: list[dict[str, np.ndarray]]) -> Book:
    """Concatenate the strategies' books, renumber signals in time order (ids grow with time)."""
    offsets = np.cumsum([0] + [part["sig_strategy"].size for part in parts])[:-1]
    for part, offset in zip(parts, offsets):
        part["exe_signal"] = part["exe_signal"] + offset
    merged = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.lexsort((np.arange(merged["sig_received"].size), merged["sig_received"]))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    for key in [k for k in merged if k.startswith("sig_")]:
        merged[key] = merged[key][order]
    merged["exe_signal"] = rank[merged["exe_signal"]]
    exe_order = np.lexsort((merged["exe_signal"], merged["exe_time"]))
    for key in [k for k in merged if k.startswith("exe_")]:
        merged[key] = merged[key][exe_order]
    return Book(**merged)



def derive_book(book: Book) -> tuple[fifo.Derivation, np.ndarray]:
    """The FIFO derivation of the book's executions, as ``data_access.ingest.derive`` computes it
    in the database: per (strategy, symbol) group ``strategy * len(SYMBOLS) + symbol``, in
    (time, execution row) order. Also returns the executions' order in the derivation's input."""
    group = (book.sig_strategy[book.exe_signal].astype(np.int64) * len(SYMBOLS)
             + book.sig_symbol[book.exe_signal].astype(np.int64))
    order = np.lexsort((np.arange(group.size), book.exe_time, group))
    sign = np.where(book.sig_side[book.exe_signal] == 0, 1.0, -1.0)
    derived = fifo.derive(group[order], book.exe_time[order], (sign * book.exe_qty)[order], book.exe_price[order],
                          book.exe_commission[order])
    return derived, order


def account_snapshots(market: Market, book: Book, derived: fifo.Derivation) -> dict[str, np.ndarray]:
    """Per account and business day: equity, cash, margin, unrealized PnL (arrays of shape (a, n)),
    from the FIFO pieces: closed ones held between their days, open lots held to the end."""
    n, a, k = market.n, len(ACCOUNTS), len(SYMBOLS)
    account_of = np.array([p.account for p in STRATEGIES])

    def day_of(us: np.ndarray) -> np.ndarray:
        return np.searchsorted(market.session_open_us, us, side="right") - 1

    # cash flows: every fill's commission on its day; a closed piece's gross PnL on its close day
    closed, lots = derived.closed, derived.open_lots
    exe_account = account_of[book.sig_strategy[book.exe_signal]]
    closed_account = account_of[closed.group // k]
    flows = (np.bincount(exe_account * n + day_of(book.exe_time), weights=-book.exe_commission, minlength=a * n)
             + np.bincount(closed_account * n + day_of(closed.closed_at),
                           weights=closed.realized_pnl + closed.commission, minlength=a * n))
    realized = np.cumsum(flows.reshape(a, n), axis=1)

    piece_account = np.concatenate([closed_account, account_of[lots.group // k]])
    piece_symbol = np.concatenate([closed.group % k, lots.group % k])
    piece_entry_day = day_of(np.concatenate([closed.opened_at, lots.time]))
    piece_exit_day = np.concatenate([day_of(closed.closed_at), np.full(len(lots), n)])
    piece_signed = np.concatenate([closed.direction * closed.quantity, lots.quantity])
    piece_price = np.concatenate([closed.entry_price, lots.price])

    # pieces held at a day's close: entry_day <= d < exit_day
    length = piece_exit_day - piece_entry_day
    held = length > 0
    piece = np.repeat(np.flatnonzero(held), length[held])
    start = np.repeat(piece_entry_day[held], length[held])
    step = np.arange(piece.size) - np.repeat(np.cumsum(length[held]) - length[held], length[held])
    day = start + step
    price = market.close[piece_symbol[piece], day]
    signed = piece_signed[piece]
    key = piece_account[piece] * n + day
    unrealized = np.bincount(key, weights=signed * (price - piece_price[piece]), minlength=a * n).reshape(a, n)
    net_value = np.bincount(key, weights=signed * price, minlength=a * n).reshape(a, n)
    gross_value = np.bincount(key, weights=np.abs(signed) * price, minlength=a * n).reshape(a, n)
    contributions = np.array([acc[2] for acc in ACCOUNTS])[:, None]
    rate = np.array([acc[3] for acc in ACCOUNTS])[:, None]
    equity = contributions + realized + unrealized
    margin_used = np.minimum(rate * gross_value, 0.45 * np.maximum(equity, 0.0))
    return {
        "equity": np.round(equity, 2),
        "cash": np.round(equity - net_value, 2),
        "margin_used": np.round(margin_used, 2),
        "margin_available": np.round(equity - margin_used, 2),
        "unrealized_pnl": np.round(unrealized, 2),
    }

