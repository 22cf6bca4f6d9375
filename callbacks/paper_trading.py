"""What reacts on the paper-trading page. Access is enforced in the callback that loads the
document (admins and analysts only, like the API), not only by what the page shows: any other
role gets no document, so no panel receives data."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, ctx, html
from dash.exceptions import PreventUpdate

from callbacks import common
from callbacks import paper_trading_figures as figures
from callbacks.common import current_user, money, number, panel_error, pct
from data_access.paper_trading import paper_trading_dashboard_for
from layouts import components
from layouts import paper_trading_ids as ids

PAPER_ROLES = {"admin", "analyst"}
STATUS_COLORS = {"healthy": "success", "degraded": "warning", "unhealthy": "danger"}
MUTED = "text-body-secondary"
GRID_SECTIONS = {  # grid -> document key of its rows
    ids.POSITIONS_GRID: "open_positions",
    ids.SHADOW_GRID: "shadow_positions",
    ids.EXITS_GRID: "exit_signals",
    ids.QUEUED_GRID: "queued_signals",
    ids.TRADES_GRID: "recent_trades",
    ids.SOURCES_GRID: "source_performance",
    ids.TOP_GRID: "top_performers",
}


def may_see_paper_trading() -> bool:
    user = current_user()
    return user is not None and user.role in PAPER_ROLES


# --------------------------------------------------------------------------- formatting


def signed_money(value: float | None) -> str:
    """Full dollars with a sign: +$1,266.38 / -$24.90."""
    if value is None:
        return "—"
    return f"{'-' if value < 0 else '+'}${abs(value):,.2f}"


def signed_compact(value: float | None) -> str:
    """A headline amount with its sign: +$21.01k."""
    return "—" if value is None else ("+" if value >= 0 else "") + money(value)


def tone(value: float | None) -> str:
    if value is None or value == 0:
        return ""
    return "text-success" if value > 0 else "text-danger"


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} d"


def section_alert(doc: dict, section: str):
    """The panel's error: red when the section failed outright (no value), amber when it failed in
    part (e.g. a symbol without a price) and its data is still shown below."""
    message = (doc.get("errors") or {}).get(section)
    if not message:
        return None
    if doc.get(section) is None:
        return panel_error(doc, section)
    return dbc.Alert(f"Partly loaded: {message}", color="warning", className="py-1 px-2 mb-0 small")


def key_values(rows: list[tuple[str, str, object]]) -> list:
    """Label / value lines (``(id, label, value)``) like the client page's risk panel."""
    return [
        html.Div([html.Span(label, className=f"{MUTED} me-2"), html.Span(value, id=row_id, className="fw-semibold text-end")],
                 className="d-flex justify-content-between border-bottom py-1")
        for row_id, label, value in rows
    ]


# --------------------------------------------------------------------------- panels


def kpi_values(overview: dict | None, stats: dict | None) -> tuple[list, list]:
    if overview is None:
        return ["—"] * len(ids.KPI_CARDS), [None] * len(ids.KPI_CARDS)
    o = overview
    total, daily = o["total_pnl"], o["daily_pnl"]
    sides = (html.Span(f"{stats['open_long']} long · {stats['open_short']} short", className=MUTED)
             if stats else None)
    values = {
        "total_pnl": (html.Span(signed_compact(total), className=tone(total), title=signed_money(total)),
                      html.Span(f"realized {money(o['realized_pnl'])} · open {money(o['unrealized_pnl'])}", className=MUTED)),
        "daily_pnl": (html.Span(signed_compact(daily), className=tone(daily), title=signed_money(daily)),
                      html.Span(f"realized today {money(o['daily_realized_pnl'])}", className=MUTED)),
        "win_rate": (pct(o["win_rate"]), html.Span(f"{o['closed_trades']:,} closed trades", className=MUTED)),
        "active_trades": (f"{o['active_trades']:,}", sides),
        "accounts": (f"{o['active_accounts']} / {o['total_accounts']}", html.Span("with open trades / all", className=MUTED)),
        "equity": (money(o["equity"]),
                   html.Span(f"return {pct(o['return_pct'], 2)} on {money(o['starting_capital'])}",
                             className=tone(o["return_pct"]))),
    }
    return [values[k][0] for k, _ in ids.KPI_CARDS], [values[k][1] for k, _ in ids.KPI_CARDS]


def status_badge(status: str) -> html.Span:
    color = STATUS_COLORS.get(status, "secondary")
    return html.Span(status, id=f"{ids.HEALTH}-status",
                     className=f"badge border bg-{color}-subtle text-{color}-emphasis border-{color}-subtle "
                               "text-uppercase fw-semibold fs-6")


def health_body(health: dict | None) -> list:
    if health is None:
        return [html.Span("—", className=MUTED)]
    pulse = health.get("database")
    problems = health.get("problems") or []
    cache = health.get("cache") or {}
    cache_text = ("degraded: Redis unreachable" if cache.get("degraded") else
                  "Redis ok" if cache.get("enabled") else "off")
    queued = "—"
    if pulse:
        queued = f"{pulse['queued']:,}"
        if pulse["queued"]:
            queued += f" · oldest {age_text(pulse['oldest_queued_age_seconds'])}"
    rows = [
        (f"{ids.HEALTH}-database", "Database round trip", f"{pulse['database_ms']:.1f} ms" if pulse else "unreachable"),
        (f"{ids.HEALTH}-last-signal", "Last signal",
         f"{age_text(pulse['last_signal_age_seconds'])} ago" if pulse and pulse["last_signal_at"] else "—"),
        (f"{ids.HEALTH}-last-execution", "Last execution (UTC)",
         (pulse["last_execution_at"] or "—").replace("T", " ").replace("Z", "") if pulse else "—"),
        (f"{ids.HEALTH}-queued", "Queued signals (entries + exits)", queued),
        (f"{ids.HEALTH}-stale-prices", "Stale prices", ", ".join(health.get("stale_price_symbols") or []) or "none"),
        (f"{ids.HEALTH}-stale-gex", "Stale GEX", ", ".join(health.get("stale_gex_symbols") or []) or "none"),
        (f"{ids.HEALTH}-cache", "Cache", cache_text),
    ]
    problem_list = (html.Ul([html.Li(p) for p in problems], id=f"{ids.HEALTH}-problems",
                            className="small mb-0 ps-3 text-warning-emphasis")
                    if problems else html.Div("No problems.", id=f"{ids.HEALTH}-problems", className=f"small {MUTED}"))
    return [html.Div([status_badge(health["status"]), problem_list], className="d-flex flex-column gap-2 mb-2"),
            *key_values(rows)]


def gex_body(rows: list | None) -> list:
    if rows is None:
        return [html.Span("—", className=MUTED)]
    if not rows:
        return [html.Div("No GEX symbols configured (GEX_SYMBOLS).", className=f"small {MUTED}")]
    cards = []
    for row in rows:
        age = age_text(row.get("age_seconds"))
        marker = (html.Span(f"stale, {age} old", className="badge bg-warning-subtle text-warning-emphasis border "
                                                          "border-warning-subtle fst-italic")
                  if row.get("stale") else html.Span(f"{age} old", className=f"small {MUTED}"))
        gamma = row.get("gamma_exposure")
        cards.append(dbc.Col(
            html.Div(
                [
                    html.Div([html.Span(row["symbol"], className="fw-bold me-auto"), marker],
                             className="d-flex align-items-center gap-2 mb-1"),
                    *key_values([
                        (f"{ids.GEX}-{row['symbol']}-gamma", "Gamma exposure",
                         html.Span(money(gamma), className=tone(gamma))),
                        (f"{ids.GEX}-{row['symbol']}-call-wall", "Call wall", number(row.get("call_wall"))),
                        (f"{ids.GEX}-{row['symbol']}-put-wall", "Put wall", number(row.get("put_wall"))),
                    ]),
                ],
                className="border rounded p-2 h-100" + (" border-warning" if row.get("stale") else ""),
            ),
            xs=12, sm=6, md=12,
        ))
    return [dbc.Row(cards, className="g-2")]


def positions_summary(total: dict | None, shown: list | None) -> list | None:
    if total is None:
        return None
    text = [f"{total['count']:,} open · unrealized ",
            html.Span(signed_money(total["unrealized_pnl"]), className=f"fw-semibold {tone(total['unrealized_pnl'])}")]
    if shown is not None and total["count"] > len(shown):
        text.append(f" · the newest {len(shown)} listed")
    return text


def shadow_summary(summary: dict | None, shown: list | None):
    """The cost of not trading: "N missed entries in the last 5 days would be +$X now"."""
    if summary is None:
        return None
    n, days, pnl = summary["count"], summary["window_days"], summary["unrealized_pnl"]
    if n == 0:
        return html.Div(f"No missed entries in the last {days} days.", className=f"small {MUTED}")
    by_status = " · ".join(f"{count} {status.lower()}" for status, count in sorted(summary["by_status"].items()))
    listed = f" · the newest {len(shown)} listed" if shown is not None and n > len(shown) else ""
    return html.Div(
        [
            html.Span(f"{n:,} missed {'entry' if n == 1 else 'entries'} in the last {days} days would be "),
            html.Span(signed_money(pnl), className=f"fw-bold {tone(pnl)}"),
            html.Span(" now"),
            html.Span(f" ({by_status}{listed})", className=MUTED),
        ],
        className="small",
    )


def queued_summary(total: int | None, shown: list | None) -> str | None:
    if total is None:
        return None
    if total == 0:
        return "No entries waiting to execute."
    listed = f" · the oldest {len(shown)} listed" if shown is not None and total > len(shown) else ""
    return f"{total:,} {'entry' if total == 1 else 'entries'} accepted, waiting to execute (oldest first){listed}"


def metrics_body(m: dict | None) -> list:
    if m is None:
        return [html.Span("—", className=MUTED)]
    shown = {
        "total_trades": f"{m['total_trades']:,} ({m['winning_trades']:,} W / {m['losing_trades']:,} L)",
        "win_rate": pct(m["win_rate"]),
        "profit_factor": number(m["profit_factor"]),
        "expectancy": html.Span(money(m["expectancy"]), className=tone(m["expectancy"])),
        "avg_win": money(m["avg_win"]),
        "avg_loss": money(m["avg_loss"]),
        "largest_win": money(m["largest_win"]),
        "largest_loss": money(m["largest_loss"]),
        "sharpe_ratio": number(m["sharpe_ratio"]),
        "sortino_ratio": number(m["sortino_ratio"]),
        "max_drawdown_pct": pct(m["max_drawdown_pct"], 2),
    }
    return key_values([(ids.metric(key), label, shown[key]) for key, label in ids.METRIC_ROWS])


def stats_body(s: dict | None) -> list:
    if s is None:
        return [html.Span("—", className=MUTED)]
    by_status = " · ".join(f"{n} {status.lower()}" for status, n in s["signals_today_by_status"].items() if n)
    shown = {
        "signals_today": f"{s['signals_today']:,}" + (f" ({by_status})" if by_status else ""),
        "trades_opened_today": f"{s['trades_opened_today']:,}",
        "trades_closed_today": f"{s['trades_closed_today']:,}",
        "open_long_short": f"{s['open_long']:,} / {s['open_short']:,}",
        "open_symbols": f"{s['open_symbols']:,}",
        "open_exposure_at_entry": money(s["open_exposure_at_entry"]),
    }
    return key_values([(ids.stat(key), label, shown[key]) for key, label in ids.STAT_ROWS])


def empty_book(doc: dict | None):
    """The page's empty state when there is no paper account at all (not when the overview failed)."""
    if not doc or (doc.get("overview") or {}).get("total_accounts") != 0:
        return None
    return components.empty_state(
        "No paper accounts yet",
        "Paper trading follows paper accounts, the trades they open and close, and the signals behind them.",
        [components.ingest_step("paper-accounts", "paper-accounts.json"),
         components.then_step(["paper-trades", "paper-signals"])],
        note=components.DEMO_NOTE)


# --------------------------------------------------------------------------- wiring


def register(app: dash.Dash) -> None:
    common.register_refresh_interval(app, ids.REFRESH_EVERY, ids.TICK)

    @app.callback(
        Output(ids.DOCUMENT, "data"),
        Output(ids.STATUS, "children"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.REFRESH_NOW, "n_clicks"),
    )
    def load_document(_ticks, _clicks):
        if not may_see_paper_trading():
            return None, dbc.Alert("Your role may not see the paper-trading dashboard.", color="warning")
        force = ctx.triggered_id == ids.REFRESH_NOW
        return common.load_document(lambda settings: paper_trading_dashboard_for(settings, force=force))

    @app.callback(
        *[Output(ids.kpi(key), "children") for key, _ in ids.KPI_CARDS],
        *[Output(ids.kpi_sub(key), "children") for key, _ in ids.KPI_CARDS],
        *[Output(ids.error(panel), "children") for panel in ids.PANELS],
        Output(ids.HEALTH, "children"),
        Output(ids.GEX, "children"),
        Output(ids.METRICS, "children"),
        Output(ids.STATS, "children"),
        Output(ids.POSITIONS_SUMMARY, "children"),
        Output(ids.SHADOW_SUMMARY, "children"),
        Output(ids.QUEUED_SUMMARY, "children"),
        Output(ids.PNL_CHART, "figure"),
        Output(ids.RETURNS_CHART, "figure"),
        *[Output(grid, "rowData") for grid in GRID_SECTIONS],
        Input(ids.DOCUMENT, "data"),
    )
    def render(doc: dict | None):
        if not doc:
            raise PreventUpdate
        values, subs = kpi_values(doc["overview"], doc["trading_stats"])
        return (
            *values, *subs,
            *[section_alert(doc, section) for section in ids.PANELS.values()],
            health_body(doc["health"]),
            gex_body(doc["gex"]),
            metrics_body(doc["performance_metrics"]),
            stats_body(doc["trading_stats"]),
            positions_summary(doc["open_positions_total"], doc["open_positions"]),
            shadow_summary(doc["shadow_summary"], doc["shadow_positions"]),
            queued_summary(doc["queued_total"], doc["queued_signals"]),
            figures.pnl_curve_figure(doc["pnl_curve"]),
            figures.daily_returns_figure(doc["daily_returns"]),
            *[doc[section] or [] for section in GRID_SECTIONS.values()],
        )

    common.register_empty_state(app, ids.EMPTY, ids.BODY, [Input(ids.DOCUMENT, "data")], empty_book)
    common.register_freshness_labels(app, ids.DOCUMENT, ids.CLOCK, ids.PANELS, ids.freshness)
    common.register_csv_buttons(app, ids.GRIDS, ids.csv_button)

    common.register_json_download(app, ids.DOWNLOAD_JSON, ids.DOWNLOAD_JSON_BUTTON, ids.DOCUMENT,
                                  may_download=lambda _doc: may_see_paper_trading(),
                                  filename=lambda _doc: "paper-trading-dashboard.json")
