"""Demo data: a deterministic, realistic fund in one call.

``seed(url, scale="demo", seed=42)`` fills an empty, migrated database with:

- **market data**: daily bars (business days, ~3 years ending today, UTC) for 11 symbols incl. the
  benchmark. Returns switch between hidden calm / normal / turbulent regimes (a Markov chain with
  persistent states) and carry GARCH(1,1) volatility clustering with fat-tailed (Student-t)
  shocks correlated through a market factor. Opens gap from the previous close; highs and lows
  bracket the open and close.
- **the fund**: 4 broker accounts, developer users (no usable password until one is set by the
  CLI), 7 strategies (different edges, fill rates and latency profiles; one PAUSED).
- **signals and fills**: round trips per strategy (entry and exit signals, FILLED, each with one
  execution or two partial ones at prices inside that day's bar range), a few entries left open,
  plus REJECTED (with a reason), CANCELLED and PENDING signals. Signal-to-fill lags are lognormal
  with a long tail of multi-minute outliers. Signals arrive during NYSE hours.
- **closed trades and positions** derived from the executions, FIFO per strategy and symbol, by
  ``data_access.ingest.derive`` as for any book (``analytics.fifo``).
- **account snapshots** on every business day, coherent with the derived trades: equity = net
  contributions + realized PnL (less commissions) + unrealized PnL of the lots open at that
  close; cash = equity - net market value; margin used = a broker rate times gross exposure.
- **backtests**: every strategy kind over parameter grids x symbols x windows, actually run by
  ``analytics.backtest.run`` on the seeded bars, completed over the last ~120 days, with trades
  and equity curves; a few FAILED runs.
- **paper trading**: 2 paper accounts with open and closed trades from several sources.

Everything comes from ``numpy.random.Generator`` streams spawned from ``seed``: the same seed
(and the same ``as_of`` day) gives identical rows. Rows go in with the DB-API ``executemany``
(psycopg2 ``execute_values`` on PostgreSQL) inside one transaction: an error leaves nothing behind.

Modules: ``scales`` (how much), ``market`` (bars), ``fund`` (accounts, strategies, commissions),
``book`` (signals, executions, snapshots), ``paper`` (paper trading), ``backtests`` (runs and a
sweep), ``writer`` (bulk inserts), ``seeding`` (``seed()``).
"""

from data_access.demo.fund import DEVELOPERS, REJECT_REASONS, STRATEGIES
from data_access.demo.backtests import BACKTEST_GRIDS
from data_access.demo.scales import SCALES, Scale
from data_access.demo.seeding import DatabaseNotEmpty, SchemaMissing, refresh_planner_statistics, seed

__all__ = ["BACKTEST_GRIDS", "DEVELOPERS", "REJECT_REASONS", "SCALES", "STRATEGIES", "DatabaseNotEmpty", "Scale",
           "SchemaMissing", "refresh_planner_statistics", "seed"]
