"""Demo paper trading: trades of several sources and the paper engine's signals."""

from __future__ import annotations

from typing import Any

import numpy as np

from data_access.demo.market import SYMBOL_INDEX, Market, _in_range, _units
from data_access.demo.scales import SESSION_SECONDS, US, Scale

PAPER_ACCOUNTS = (("Paper Alpha Lab", 100_000.0), ("Paper Signal Providers", 250_000.0))
PAPER_SOURCES = (
    # source, edge (hit rate), symbols
    ("SPX Momentum", 0.58, ("SPY", "QQQ")),
    ("Crypto Trend", 0.53, ("BTCUSD", "ETHUSD")),
    ("TradingView: trend_alerts", 0.52, ("AAPL", "MSFT", "NVDA", "TSLA")),
    ("Discord: flow_scanner", 0.45, ("TSLA", "NVDA", "IWM")),
    ("Newsletter: Macro Weekly", 0.55, ("SPY", "XOM", "JPM")),
    ("cerebro_v2", 0.60, ("SPY", "QQQ", "AAPL", "MSFT")),
)


def simulate_paper(rng: np.random.Generator, market: Market, scale: Scale, last_signal_day: int) -> dict[str, Any]:
    n_closed, n_open = scale.paper_closed, scale.paper_open
    n = n_closed + n_open
    source = rng.integers(0, len(PAPER_SOURCES), n)
    account = rng.integers(0, len(PAPER_ACCOUNTS), n)
    symbol = np.array([SYMBOL_INDEX[rng.choice(PAPER_SOURCES[s][2])] for s in source.tolist()])
    is_open = np.arange(n) >= n_closed
    first = last_signal_day - 120
    entry_day = np.where(is_open, last_signal_day - rng.integers(0, 10, n), rng.integers(first, last_signal_day + 1, n))
    exit_day = np.minimum(entry_day + rng.geometric(0.35, n) - 1, last_signal_day)
    entry_off = rng.uniform(0, 3 * 3600, n)
    exit_off = np.where(exit_day == entry_day, rng.uniform(3.25 * 3600, SESSION_SECONDS, n),
                        rng.uniform(0, SESSION_SECONDS, n))
    entry_px = _in_range(rng, market, symbol, entry_day)
    exit_px = _in_range(rng, market, symbol, exit_day)
    edge = np.array([PAPER_SOURCES[s][1] for s in source.tolist()])
    move = np.sign(exit_px - entry_px)
    move[move == 0] = 1
    direction = np.where(rng.random(n) < edge, move, -move)
    direction = np.where(is_open, rng.choice([-1, 1], n, p=[0.3, 0.7]), direction)
    cash = np.array([a[1] for a in PAPER_ACCOUNTS])[account]
    # 3-12 % of the account per trade when ~10 trades are open at a time; smaller when more are
    concurrent = (exit_day - entry_day + 0.5)[~is_open].sum() / 120.0 / len(PAPER_ACCOUNTS)
    qty = _units(cash * rng.uniform(0.03, 0.12, n) * min(1.0, 10.0 / max(concurrent, 1e-9)) / entry_px, symbol)
    pnl = np.round(direction * qty * (exit_px - entry_px), 2)
    opened = market.session_open_us[entry_day] + np.round(entry_off * US).astype(np.int64)
    closed = market.session_open_us[exit_day] + np.round(exit_off * US).astype(np.int64)
    # cash: starting cash + realized PnL, less what the open longs cost, plus what the open shorts raised
    flows = np.where(is_open, -direction * qty * entry_px, pnl)
    starting = np.array([a[1] for a in PAPER_ACCOUNTS])
    account_cash = np.round(starting + np.bincount(account, weights=flows, minlength=starting.size), 2)
    return {
        "source": source, "account": account, "symbol": symbol, "is_open": is_open, "direction": direction,
        "qty": qty, "entry_px": entry_px, "exit_px": exit_px, "pnl": pnl, "opened": opened, "closed": closed,
        "account_cash": account_cash,
    }


PAPER_MISSED_REASONS = {
    "REJECTED": ("max open positions reached", "insufficient buying power", "risk limit: symbol exposure"),
    "SKIPPED": ("duplicate signal", "filtered: low confidence", "outside trading hours"),
    "EXPIRED": ("not filled within 60 s",),
}


def simulate_paper_signals(rng: np.random.Generator, market: Market, paper: dict[str, Any], last_signal_day: int,
                           now_us: int) -> dict[str, np.ndarray]:
    """The paper engine's signals: an executed ENTRY a few seconds before each trade opened and an
    executed EXIT for each closed trade; missed entries (rejected, skipped, expired: about one in
    five, a third of them in the last five sessions, so there are shadow positions to show); a
    few entries queued and exits active in the last minutes before ``now``."""
    n = paper["source"].size
    closed = np.flatnonzero(~paper["is_open"])
    open_ = np.flatnonzero(paper["is_open"])
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("source", "account", "symbol", "direction", "action", "qty",
                                                         "price", "created", "status", "reason", "trade",
                                                         "executed")}

    def add(idx_source, account, symbol, direction, action, qty, price, created, status, reason, trade, executed):
        for key, value in zip(cols, (idx_source, account, symbol, direction, action, qty, price, created, status,
                                     reason, trade, executed)):
            cols[key].append(np.asarray(value))

    def obj(value, size):
        return np.full(size, value, dtype=object)

    def sized(account, price, symbol):  # 3-8 % of the account
        cash = np.array([a[1] for a in PAPER_ACCOUNTS])[account]
        return _units(cash * rng.uniform(0.03, 0.08, account.size) / price, symbol)

    every = np.arange(n)
    add(paper["source"], paper["account"], paper["symbol"], paper["direction"], obj("ENTRY", n), paper["qty"],
        paper["entry_px"], paper["opened"] - np.round(rng.uniform(1, 30, n) * US).astype(np.int64),
        obj("EXECUTED", n), obj(None, n), every, paper["opened"])
    c = closed.size
    add(paper["source"][closed], paper["account"][closed], paper["symbol"][closed], paper["direction"][closed],
        obj("EXIT", c), paper["qty"][closed], paper["exit_px"][closed],
        paper["closed"][closed] - np.round(rng.uniform(1, 30, c) * US).astype(np.int64), obj("EXECUTED", c),
        obj(None, c), closed, paper["closed"][closed])

    # missed entries, drawn like the trades of the same sources
    k = max(30, n // 5)
    pick = rng.integers(0, n, k)
    source, account = paper["source"][pick], paper["account"][pick]
    symbol = np.array([SYMBOL_INDEX[rng.choice(PAPER_SOURCES[s][2])] for s in source.tolist()])
    recent = rng.random(k) < 1 / 3
    day = np.where(recent, last_signal_day - rng.integers(0, 5, k), last_signal_day - rng.integers(0, 121, k))
    price = _in_range(rng, market, symbol, day)
    created = market.session_open_us[day] + np.round(rng.uniform(0, SESSION_SECONDS, k) * US).astype(np.int64)
    status = rng.choice(np.array(["REJECTED", "SKIPPED", "EXPIRED"], dtype=object), k, p=[0.45, 0.45, 0.10])
    reason = np.array([rng.choice(PAPER_MISSED_REASONS[st]) for st in status.tolist()], dtype=object)
    add(source, account, symbol, rng.choice([-1, 1], k, p=[0.3, 0.7]), obj("ENTRY", k), sized(account, price, symbol),
        price, created, status, reason, np.full(k, -1), np.full(k, -1))

    # the live queue: entries waiting to execute, exits waiting to close about a third of the open trades
    q = max(3, open_.size // 5)
    pick = rng.integers(0, n, q)
    source = paper["source"][pick]
    symbol = np.array([SYMBOL_INDEX[rng.choice(PAPER_SOURCES[s][2])] for s in source.tolist()])
    price = np.round(market.close[symbol, last_signal_day], 4)
    add(source, paper["account"][pick], symbol, rng.choice([-1, 1], q, p=[0.3, 0.7]), obj("ENTRY", q),
        sized(paper["account"][pick], price, symbol), price,
        now_us - np.round(rng.uniform(5, 900, q) * US).astype(np.int64), obj("QUEUED", q), obj(None, q),
        np.full(q, -1), np.full(q, -1))
    exits = open_[rng.random(open_.size) < 1 / 3]
    e = exits.size
    add(paper["source"][exits], paper["account"][exits], paper["symbol"][exits], paper["direction"][exits],
        obj("EXIT", e), paper["qty"][exits], np.round(market.close[paper["symbol"][exits], last_signal_day], 4),
        now_us - np.round(rng.uniform(5, 600, e) * US).astype(np.int64), obj("QUEUED", e), obj(None, e), exits,
        np.full(e, -1))
    out = {key: np.concatenate(parts) for key, parts in cols.items()}
    order = np.argsort(out["created"], kind="stable")
    return {key: value[order] for key, value in out.items()}

