"""The paper-trading dashboard: what is open right now.

Sections and their tiers (ARCHITECTURE.md): real-time, computed for every request and never
cached - open positions, shadow positions, exit signals, queued signals, health; short - overview
(also the whole of the lite endpoint), recent trades, trading stats; medium - daily realized PnL
(from which the PnL curve, daily returns and performance metrics are derived), trade totals, top
performers, source performance, GEX. Every section is one SQL statement (two for source
performance), and the document's sections are read in parallel.

Positions are marked with the configured price provider (``data_access.marking``); a real-time
section that cannot price a symbol keeps its rows (price null) and names the symbol in ``errors``.

Definitions:
- a position's ``unrealized_pnl`` = (price - entry) x quantity, negated for a short;
- ``active_accounts``: paper accounts holding at least one open trade;
- ``total_pnl`` = realized PnL of every closed trade + unrealized PnL of the open ones at live prices;
- ``daily_pnl`` (a broker's "day's P&L"): realized PnL of the trades closed on the as-of day (UTC)
  + the open book's move today: from each symbol's previous daily close (or the entry price, for a
  trade opened today) to the live price;
- ``win_rate``: winning closed trades / closed trades x 100 (METRICS.md);
- a shadow position: an ENTRY signal that was not executed (rejected, skipped, expired) in the
  last ``SHADOW_DAYS`` days, held on paper at the signal's price; its PnL is what not trading cost
  (positive: the missed trade would be winning now);
- daily returns: the day's realized PnL over the book's equity at the start of the day (starting
  cash + realized PnL before it), in perce

Where things are: `basics` (limits, families, helpers), `realtime` (the never-cached sections),
`cached_sections`, `assembly` (the derived panels, pure) and `document` (the document and the lite
endpoint).
"""

from data_access.paper_trading.assembly import daily_returns, gex_now, health, performance_metrics, pnl_curve
from data_access.paper_trading.basics import (
    DEFAULT_LIMIT,
    FAMILIES,
    MAX_LIMIT,
    SHADOW_DAYS,
    STUCK_QUEUE_SECONDS,
    InvalidLimit,
    check_limit,
)
from data_access.paper_trading.cached_sections import (
    daily_realized,
    gex_levels,
    overview,
    recent_trades,
    source_performance,
    top_performers,
    trade_totals,
    trading_stats,
)
from data_access.paper_trading.document import (
    SECTIONS,
    paper_trading_dashboard,
    paper_trading_dashboard_for,
    paper_trading_lite,
    paper_trading_lite_for,
)
from data_access.paper_trading.realtime import (
    activity,
    day_unrealized,
    exit_signals,
    open_positions,
    queued_signals,
    shadow_positions,
)

__all__ = [
    "DEFAULT_LIMIT", "FAMILIES", "MAX_LIMIT", "SECTIONS", "SHADOW_DAYS", "STUCK_QUEUE_SECONDS", "InvalidLimit",
    "activity", "check_limit", "daily_realized", "daily_returns", "day_unrealized", "exit_signals", "gex_levels",
    "gex_now", "health", "open_positions", "overview", "paper_trading_dashboard", "paper_trading_dashboard_for",
    "paper_trading_lite", "paper_trading_lite_for", "performance_metrics", "pnl_curve", "queued_signals",
    "recent_trades", "shadow_positions", "source_performance", "top_performers", "trade_totals", "trading_stats",
]
