"""``seed()``: the demo book written in one transaction, positions and closed trades derived from its fills."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, inspect, select

import data_access.models as m
from app.config import Settings
from data_access.aggregates.backtest_days import rebuild_backtest_days
from data_access.aggregates.signal_days import apply_signal_changes, signal_frame
from data_access.db import make_engine
from data_access.demo.backtests import _write_backtests, _write_demo_sweep, plan_backtests
from data_access.demo.book import account_snapshots, derive_book, simulate_book
from data_access.demo.fund import ACCOUNTS, DEVELOPERS, REJECT_REASONS, STATUS_CODES, STRATEGIES
from data_access.demo.market import SYMBOLS, simulate_market, symbol_names
from data_access.demo.paper import PAPER_ACCOUNTS, PAPER_SOURCES, simulate_paper, simulate_paper_signals
from data_access.demo.scales import BAR_DAYS, SCALES, SESSION_SECONDS, US, Scale
from data_access.demo.writer import _delete_seeded, _has_data, _next_id, _reset_sequences, _Writer
from data_access.ingest.derive import rederive


class DatabaseNotEmpty(RuntimeError):
    """The database already holds data and ``reset`` was not asked for."""


class SchemaMissing(RuntimeError):
    """The tables do not exist yet: run the migrations first."""



def _business_days(today: dt.date) -> pd.DatetimeIndex:
    return pd.bdate_range(end=pd.Timestamp(today), periods=BAR_DAYS)


def seed(url: str, scale: str = "demo", seed: int = 42, reset: bool = False, progress: bool = True,
         as_of: dt.datetime | None = None) -> dict[str, int]:
    """Fill the database at ``url`` with demo data; returns the rows written per table.

    ``scale``: "demo" (a few thousand signals, ~400 backtests; seconds), "large" (>= 1,000,000
    signals and executions, >= 10,000 backtests; about half a minute) or "xlarge" (ten times large's
    signals and executions, 100,000 backtests; about 5 minutes on SQLite). ``seed``: the random
    seed; the same seed and ``as_of`` day give identical rows. ``as_of``: "now" as a naive UTC datetime (default:
    the current time); bars end on its date. ``reset``: delete the seeded tables' rows first
    (users with role admin and their tokens stay); without it, a database with data raises
    ``DatabaseNotEmpty`` and nothing is written. The schema must exist (``data_access.migrate``).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid scales: {', '.join(SCALES)}")
    spec = SCALES[scale]
    now = (as_of or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    settings = Settings.from_env()
    engine = make_engine(url)
    try:
        missing = {t.name for t in m.Base.metadata.sorted_tables} - set(inspect(engine).get_table_names())
        if missing:
            raise SchemaMissing(f"tables {', '.join(sorted(missing))} do not exist: run the migrations first "
                                "(data_access.migrate.upgrade(url) or `alembic upgrade head`)")
        with engine.connect() as conn:
            busy = _has_data(conn)
        if busy and not reset:
            raise DatabaseNotEmpty(f"the database already has data (in {', '.join(busy)}); "
                                   "seed with reset=True to replace it (admin users are kept)")
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA cache_size=-200000")  # 200 MB page cache for the bulk load
            if reset:
                _delete_seeded(conn)
            elif _has_data(conn):
                raise DatabaseNotEmpty("the database got data while seeding was being prepared")
            written = _seed(conn, spec, seed, now, settings, progress)
        refresh_planner_statistics(engine)
        return written
    finally:
        engine.dispose()


def refresh_planner_statistics(engine) -> None:
    """After a bulk load on PostgreSQL: VACUUM (ANALYZE), before autovacuum gets to it. Without
    statistics the planner guessed 930 of a strategy's 218,662 signals and sorted them all for a
    page of its history (170 ms; 10 ms after, with index-only counts from the visibility map).
    SQLite's planner works without statistics, and its queries here are tuned for that."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")


def _seed(conn: Connection, spec: Scale, seed_value: int, now: dt.datetime, settings: Settings,
          progress: bool) -> dict[str, int]:
    from tqdm.auto import tqdm

    bar = tqdm(total=None, unit="rows", unit_scale=True, disable=not progress, desc="generating data", leave=True)
    try:
        return _generate_and_write(conn, spec, seed_value, now, settings, bar)
    finally:
        bar.close()


def _generate_and_write(conn: Connection, spec: Scale, seed_value: int, now: dt.datetime, settings: Settings,
                        bar) -> dict[str, int]:
    streams = np.random.SeedSequence(seed_value).spawn(6)
    rng_market, rng_book, rng_users, rng_backtests, rng_paper, _spare = (np.random.default_rng(s) for s in streams)

    days = _business_days(now.date())
    market = simulate_market(rng_market, days)
    # signals happen on business days strictly before today (today's session may not be over)
    last_signal_day = int(np.searchsorted(days.to_numpy(), np.datetime64(now.date()), side="left")) - 1
    book = simulate_book(rng_book, market, spec, last_signal_day)
    derived, _ = derive_book(book)
    snapshots = account_snapshots(market, book, derived)
    paper = simulate_paper(rng_paper, market, spec, last_signal_day)
    now_us = int(np.datetime64(now.replace(tzinfo=None), "us").astype(np.int64))
    paper_signals = simulate_paper_signals(_spare, market, paper, last_signal_day, now_us)
    names = symbol_names(settings)
    plans = plan_backtests(rng_backtests, market, spec, now, names)

    n_strategies, n_accounts = len(STRATEGIES), len(ACCOUNTS)
    planned = (market.n * len(SYMBOLS) + book.sig_strategy.size + book.exe_signal.size
               + n_accounts * (market.n + 1) + len(plans) + paper["source"].size + len(PAPER_ACCOUNTS)
               + paper_signals["source"].size
               + 2 * len(DEVELOPERS) + n_strategies)
    bar.total = planned
    bar.set_description("seeding")
    w = _Writer(conn, spec.chunk, bar)
    day_us = days.to_numpy().astype("datetime64[us]").astype(np.int64)
    first_day = days[0].date()

    # -------- market data
    k, n = len(SYMBOLS), market.n
    w.insert(m.Bar.__table__, {
        "id": np.arange(n * k) + _next_id(conn, m.Bar.__table__),
        "symbol": np.repeat(names, n),
        "timeframe": ["1d"] * (n * k),
        "time": w.times(np.tile(day_us, k)),
        "open": market.open.ravel(), "high": market.high.ravel(), "low": market.low.ravel(),
        "close": market.close.ravel(), "volume": market.volume.ravel(),
    })

    # -------- people, accounts, strategies
    user0 = _next_id(conn, m.User.__table__)
    created = [dt.datetime.combine(first_day, dt.time(12, 0)) - dt.timedelta(days=30)]
    w.insert(m.User.__table__, {
        "id": [user0 + i for i in range(len(DEVELOPERS))],
        "username": [d[0] for d in DEVELOPERS],
        "display_name": [d[1] for d in DEVELOPERS],
        # "!" + random hex: matches no password hash scheme; a password is set later via the CLI
        "password_hash": ["!" + rng_users.bytes(32).hex() for _ in DEVELOPERS],
        "role": [m.Role.DEVELOPER.value] * len(DEVELOPERS),
        "account_scope": [None] * len(DEVELOPERS),
        "is_active": w.bools([True] * len(DEVELOPERS)),
        "created_at": w.times(np.array([int(created[0].replace(tzinfo=dt.UTC).timestamp()) * US] * len(DEVELOPERS))),
    })
    developer_id = {d[0]: user0 + i for i, d in enumerate(DEVELOPERS)}
    # one API token per developer (their signal sender's); only a hash of a random secret is
    # stored and the secret is thrown away, so none of them can be used: real ones come from the CLI
    n_dev = len(DEVELOPERS)
    token_created = market.session_open_us[rng_users.integers(0, 60, n_dev)]
    last_used = market.session_open_us[last_signal_day] + rng_users.integers(0, int(SESSION_SECONDS), n_dev) * US
    revoked = np.arange(n_dev) == n_dev - 1
    w.insert(m.ApiToken.__table__, {
        "id": np.arange(n_dev) + _next_id(conn, m.ApiToken.__table__),
        "user_id": [developer_id[d[0]] for d in DEVELOPERS],
        "name": [f"{d[0]} signal sender" for d in DEVELOPERS],
        "token_sha256": [hashlib.sha256(rng_users.bytes(32)).hexdigest() for _ in DEVELOPERS],
        "created_at": w.times(token_created),
        "last_used_at": w.times(np.where(revoked, -1, last_used)),
        "revoked": w.bools(revoked),
    })
    account0 = _next_id(conn, m.Account.__table__)
    account_created = int(dt.datetime.combine(first_day, dt.time(0, 0), dt.UTC).timestamp()) * US - 7 * 86400 * US
    w.insert(m.Account.__table__, {
        "id": [account0 + i for i in range(n_accounts)],
        "name": [a[0] for a in ACCOUNTS], "broker": [a[1] for a in ACCOUNTS],
        "net_contributions": [a[2] for a in ACCOUNTS], "currency": ["USD"] * n_accounts,
        "created_at": w.times(np.full(n_accounts, account_created)),
    })
    strategy0 = _next_id(conn, m.Strategy.__table__)
    strategy_ids = np.arange(n_strategies) + strategy0
    strategy_created = [market.session_open_us[int(round(p.start * last_signal_day)) + 15] for p in STRATEGIES]
    w.insert(m.Strategy.__table__, {
        "id": strategy_ids,
        "name": [p.name for p in STRATEGIES],
        "developer_id": [developer_id[p.developer] for p in STRATEGIES],
        "account_id": [account0 + p.account for p in STRATEGIES],
        "allocation": [p.allocation for p in STRATEGIES],
        "status": [p.status for p in STRATEGIES],
        "created_at": w.times(np.array(strategy_created)),
    })

    # -------- account snapshots
    w.insert(m.AccountSnapshot.__table__, {
        "id": np.arange(n_accounts * n) + _next_id(conn, m.AccountSnapshot.__table__),
        "account_id": np.repeat(np.arange(n_accounts) + account0, n),
        "date": w.dates([d.date() for d in days] * n_accounts),
        **{name: values.ravel() for name, values in snapshots.items()},
    })

    # -------- signals, executions
    signal0 = _next_id(conn, m.Signal.__table__)
    n_sig = book.sig_strategy.size
    ids = np.arange(n_sig) + signal0
    epoch = book.sig_received // US
    w.insert(m.Signal.__table__, {
        "id": ids,
        "signal_id": [f"sig_{e}_{i:04d}" for e, i in zip(epoch.tolist(), ids.tolist())],
        "strategy_id": strategy_ids[book.sig_strategy],
        "symbol": names[book.sig_symbol],
        "side": np.array(["BUY", "SELL"], dtype=object)[book.sig_side],
        "quantity": book.sig_qty,
        "received_at": w.times(book.sig_received),
        "status": np.array(STATUS_CODES, dtype=object)[book.sig_status],
        "reject_reason": np.array([*REJECT_REASONS, None], dtype=object)[book.sig_reason],  # -1 -> None
        "filled_at": w.times(book.sig_filled),
    })
    apply_signal_changes(conn, signal_frame(
        strategy_ids[book.sig_strategy], book.sig_received, np.array(STATUS_CODES, dtype=object)[book.sig_status],
        np.array([*REJECT_REASONS, None], dtype=object)[book.sig_reason], book.sig_filled))
    execution_ids = np.arange(book.exe_signal.size) + _next_id(conn, m.Execution.__table__)
    w.insert(m.Execution.__table__, {
        "id": execution_ids,
        # zero-padded, so that ordering by execution_id (the derivation's tie-break) is ordering by row
        "execution_id": [f"exe_{i:012d}" for i in execution_ids.tolist()],
        "signal_id": ids[book.exe_signal],
        "filled_at": w.times(book.exe_time),
        "price": book.exe_price, "quantity": book.exe_qty, "commission": book.exe_commission,
    })

    # -------- closed trades and positions: derived from the executions, as for any book
    if w.bar is not None:
        w.bar.set_description("deriving positions and closed trades")
    pairs = {(int(s), str(k)) for s, k in zip(strategy_ids[book.sig_strategy[book.exe_signal]].tolist(),
                                              names[book.sig_symbol[book.exe_signal]].tolist())}
    for table, count in rederive(conn, pairs).items():
        w.counts[table] = w.counts.get(table, 0) + count
    for model in (m.TradeDay, m.SignalDay, m.SignalLagDay):
        w.counts[model.__tablename__] = int(conn.execute(select(func.count()).select_from(model.__table__)).scalar_one())

    # -------- paper trading
    paper0 = _next_id(conn, m.PaperAccount.__table__)
    w.insert(m.PaperAccount.__table__, {
        "id": [paper0 + i for i in range(len(PAPER_ACCOUNTS))],
        "name": [a[0] for a in PAPER_ACCOUNTS],
        "starting_cash": [a[1] for a in PAPER_ACCOUNTS],
        "cash": paper["account_cash"],
        "created_at": w.times(np.full(len(PAPER_ACCOUNTS), market.session_open_us[last_signal_day - 125])),
    })
    p_order = np.argsort(paper["opened"], kind="stable")
    is_open = paper["is_open"][p_order]
    paper_trade_ids = np.arange(p_order.size) + _next_id(conn, m.PaperTrade.__table__)
    w.insert(m.PaperTrade.__table__, {
        "id": paper_trade_ids,
        "external_id": [f"pt_{i}" for i in paper_trade_ids.tolist()],
        "paper_account_id": paper["account"][p_order] + paper0,
        "source": np.array([s[0] for s in PAPER_SOURCES], dtype=object)[paper["source"][p_order]],
        "symbol": names[paper["symbol"][p_order]],
        "side": np.where(paper["direction"][p_order] > 0, "long", "short").astype(object),
        "quantity": paper["qty"][p_order],
        "entry_price": paper["entry_px"][p_order],
        "opened_at": w.times(paper["opened"][p_order]),
        "status": np.where(is_open, "OPEN", "CLOSED").astype(object),
        "exit_price": np.where(is_open, None, paper["exit_px"][p_order].astype(object)),
        "closed_at": w.times(np.where(is_open, -1, paper["closed"][p_order])),
        "realized_pnl": np.where(is_open, None, paper["pnl"][p_order].astype(object)),
    })
    trade_id = np.empty(p_order.size, dtype=np.int64)  # a simulated trade's row id
    trade_id[p_order] = np.arange(p_order.size) + _next_id(conn, m.PaperTrade.__table__) - p_order.size
    ps = paper_signals
    linked = ps["trade"] >= 0
    paper_signal_ids = np.arange(ps["source"].size) + _next_id(conn, m.PaperSignal.__table__)
    w.insert(m.PaperSignal.__table__, {
        "id": paper_signal_ids,
        "external_id": [f"ps_{i}" for i in paper_signal_ids.tolist()],
        "paper_account_id": ps["account"] + paper0,
        "source": np.array([s[0] for s in PAPER_SOURCES], dtype=object)[ps["source"]],
        "symbol": names[ps["symbol"]],
        "side": np.where(ps["direction"] > 0, "long", "short").astype(object),
        "action": ps["action"],
        "quantity": ps["qty"],
        "price": ps["price"],
        "created_at": w.times(ps["created"]),
        "status": ps["status"],
        "reason": ps["reason"],
        "paper_trade_id": np.where(linked, trade_id[np.where(linked, ps["trade"], 0)], None).astype(object),
        "executed_at": w.times(ps["executed"]),
    })

    # -------- backtests: run them, in batches
    _write_backtests(conn, w, market, plans, settings, spec, names)
    rebuild_backtest_days(conn)
    _reset_sequences(conn)
    _write_demo_sweep(conn, w, market, settings, names, now)  # through the ORM: after the sequences are set
    for model in (m.BacktestSymbolDay, m.BacktestConfigDay):  # the sweep's runs recounted their day
        w.counts[model.__tablename__] = int(conn.execute(select(func.count()).select_from(model.__table__)).scalar_one())
    return dict(sorted(w.counts.items()))

