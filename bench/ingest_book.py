"""A realistic book for bench/ingest.py: a few accounts and strategies, many symbols, N signals over
the last year (a third rejected, cancelled or pending; the others filled once or twice) and their
N executions, written as the Parquet files `tradeboard import` reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

ACCOUNTS = [("Bench Prime", "IBKR", 5_000_000.0), ("Bench Futures", "AMP", 2_000_000.0),
            ("Bench Crypto", "Coinbase", 750_000.0)]
STRATEGIES = [("Bench Momentum", "Bench Prime"), ("Bench Mean Reversion", "Bench Prime"),
              ("Bench Stat Arb", "Bench Prime"), ("Bench Breakout", "Bench Futures"),
              ("Bench Carry", "Bench Futures"), ("Bench Trend", "Bench Futures"),
              ("Bench Basis", "Bench Crypto"), ("Bench Market Making", "Bench Crypto")]
SYMBOLS = 600
REJECT_REASONS = np.array(["insufficient margin", "symbol halted", "price outside band", "risk limit"], dtype=object)


def accounts_frame() -> pd.DataFrame:
    return pd.DataFrame([{"account_name": n, "broker": b, "net_contributions": c, "currency": "USD"}
                         for n, b, c in ACCOUNTS])


def strategies_frame() -> pd.DataFrame:
    return pd.DataFrame([{"strategy_name": s, "account_name": a, "allocation": round(1 / len(STRATEGIES), 3),
                          "status": "ACTIVE"} for s, a in STRATEGIES])


def _symbols(rng: np.random.Generator) -> np.ndarray:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    names: set[str] = set()
    while len(names) < SYMBOLS:
        names.add("".join(rng.choice(letters, size=int(rng.integers(2, 5)))))
    return np.array(sorted(names), dtype=object)


def book(n: int, prefix: str, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(signals, executions): ``n`` signals and, fills being 0, 1 or 2 per signal in equal shares,
    ``n`` executions (``n`` a multiple of 3; otherwise within 2 of it). Ids start with ``prefix``."""
    rng = np.random.default_rng(seed)
    symbols = _symbols(rng)
    popularity = 1.0 / np.arange(1, SYMBOLS + 1) ** 0.8  # a few symbols trade far more than the rest
    symbol = symbols[rng.choice(SYMBOLS, size=n, p=popularity / popularity.sum())]
    strategy = np.array([s for s, _ in STRATEGIES], dtype=object)[rng.integers(0, len(STRATEGIES), n)]
    fills = rng.permutation(np.resize(np.array([0, 1, 2], dtype=np.int64), n))
    quantity = rng.integers(1, 50, n) * 10.0
    now = pd.Timestamp(dt.datetime.now(dt.UTC)).floor("s")
    span_us = 365 * 86_400 * 1_000_000
    received_us = np.sort(rng.integers(0, span_us, n)) - span_us - 60_000_000  # the year up to a minute ago
    received = now + pd.to_timedelta(received_us, unit="us")
    lag = pd.to_timedelta(rng.lognormal(5.5, 0.8, n).astype(np.int64), unit="ms")
    filled = fills > 0
    unfilled_status = np.array(["REJECTED", "CANCELLED", "PENDING"], dtype=object)[rng.integers(0, 3, n)]
    status = np.where(filled, "FILLED", unfilled_status)
    reason = np.where(status == "REJECTED", REJECT_REASONS[rng.integers(0, len(REJECT_REASONS), n)], None)
    signal_id = pd.Series(np.arange(n)).map(f"{prefix}sig_{{:09d}}".format).to_numpy(dtype=object)
    signals = pd.DataFrame({
        "signal_id": signal_id, "strategy_name": strategy, "symbol": symbol,
        "side": np.where(rng.random(n) < 0.5, "BUY", "SELL"), "quantity": quantity,
        "received_time": received, "execution_status": status, "reject_reason": reason,
        "filled_at": pd.Series(received + lag).where(filled, pd.NaT),
    })

    # executions: one row per fill; a signal filled twice splits its quantity, the second a moment later
    of = np.repeat(np.arange(n), fills)
    second = np.zeros(of.size, dtype=bool)
    second[1:] = of[1:] == of[:-1]
    two = np.repeat(fills == 2, fills)
    share = np.round(rng.uniform(0.2, 0.8, n) * quantity / 10.0) * 10.0
    share = np.clip(share, 10.0, quantity - 10.0)
    fill_qty = np.where(two, np.where(second, quantity[of] - share[of], share[of]), quantity[of])
    fill_qty = np.where(two & (quantity[of] < 20), quantity[of], fill_qty)  # too small to split: whole twice
    base = np.exp(rng.uniform(np.log(5), np.log(800), SYMBOLS))[np.searchsorted(symbols, symbol[of])]
    price = np.round(base * (1 + 0.02 * rng.standard_normal(of.size)), 4)
    at = (signals["filled_at"].iloc[of].reset_index(drop=True)
          + pd.to_timedelta(np.where(second, rng.integers(5, 2_000, of.size), 0), unit="ms"))
    executions = pd.DataFrame({
        "execution_id": pd.Series(np.arange(of.size)).map(f"{prefix}exe_{{:09d}}".format).to_numpy(dtype=object),
        "signal_id": signal_id[of], "filled_at": at, "avg_fill_price": price,
        "filled_quantity": fill_qty, "commission": np.round(fill_qty * 0.005, 4),
    }).sort_values("filled_at", kind="stable").reset_index(drop=True)
    return signals, executions


def write_book(directory: Path, n: int, prefix: str = "b_") -> tuple[Path, Path, int, int]:
    """The book's signals and executions as Parquet under ``directory``: (paths, row counts)."""
    directory.mkdir(parents=True, exist_ok=True)
    signals, executions = book(n, prefix)
    signals_path, executions_path = directory / "signals.parquet", directory / "executions.parquet"
    signals.to_parquet(signals_path, index=False)
    executions.to_parquet(executions_path, index=False)
    return signals_path, executions_path, len(signals), len(executions)
