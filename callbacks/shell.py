"""Callbacks of the app shell (navbar, theme) and of the home page's status strip and empty-book guide."""

from __future__ import annotations

import dash
import flask
from dash import Input, Output, State, html

from layouts import components, home_ids, shell_ids

ENTITY_ORDER = ["accounts", "account-snapshots", "strategies", "signals", "executions", "paper-accounts",
                "paper-trades", "paper-signals", "bars"]

# One callback owns both the switch and the store (a circular callback within one callback is
# allowed): on load the remembered theme (or the OS preference) sets the switch; a click on the
# switch sets the store. Either way <html data-bs-theme> follows.
THEME_JS = """
function(switchOn, stored) {
    var ctx = window.dash_clientside.callback_context;
    var fromSwitch = ctx.triggered && ctx.triggered.some(function (t) {
        return t.prop_id === '%(switch)s.value';
    });
    var theme;
    if (fromSwitch) {
        theme = switchOn ? 'dark' : 'light';
    } else if (stored === 'dark' || stored === 'light') {
        theme = stored;
    } else {
        theme = (window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches) ? 'dark' : 'light';
    }
    document.documentElement.setAttribute('data-bs-theme', theme);
    return [theme, theme === 'dark'];
}
""" % {"switch": shell_ids.THEME_SWITCH}

# The collapsed (phone) menu opens with the toggler and closes after navigating.
NAVBAR_JS = """
function(nClicks, pathname, isOpen) {
    var ctx = window.dash_clientside.callback_context;
    var fromToggler = ctx.triggered && ctx.triggered.some(function (t) {
        return t.prop_id === '%(toggler)s.n_clicks';
    });
    return fromToggler ? !isOpen : false;
}
""" % {"toggler": shell_ids.NAVBAR_TOGGLER}

_OVERALL = {"healthy": "success", "degraded": "warning", "unhealthy": "danger"}


def _badge(children, color: str, extra: str = "", **kwargs) -> html.Span:
    # Bootstrap 5.3's subtle colours: readable in the light and the dark theme alike.
    return html.Span(
        children,
        className=f"badge border bg-{color}-subtle text-{color}-emphasis border-{color}-subtle tb-status-pill {extra}",
        **kwargs,
    )


def _pill(label: str, ok: bool, detail: str, warn: bool = False) -> html.Span:
    color = "success" if ok else ("warning" if warn else "danger")
    return _badge(
        [html.Span("\u25cf", className="me-1", **{"aria-hidden": "true"}), f"{label}: {detail}"],
        color,
        "fw-normal",
        title=f"{label}: {'ok' if ok else 'down'}",
    )


def status_pills(report: dict) -> list:
    """The status strip's content from a health report (app.api.health_report)."""
    db, rd, wk = report["database"], report["redis"], report["workers"]
    overall = report["status"]
    pills = [
        _badge(overall, _OVERALL[overall], "text-uppercase fw-semibold", id="home-status-overall"),
        _pill("Database", db["ok"], f"{db['dialect']} {db['latency_ms']:.1f} ms" if db["ok"] else "down"),
        _pill("Redis", rd["ok"], f"{rd['latency_ms']:.1f} ms" if rd["ok"] else "down", warn=True),
    ]
    if wk["ok"]:
        detail = f"{wk['count']} · seen {wk['last_seen_seconds_ago']:.0f} s ago"
    else:
        detail = "none running"
    pills.append(_pill("Workers", wk["ok"], detail, warn=True))
    return pills


def empty_book_guide(contents: dict[str, bool]):
    """The home page's guide to bringing a book in, while the book holds nothing at all."""
    if any(contents.values()):
        return None
    order = []
    for n, entity in enumerate(ENTITY_ORDER):
        order += [", " if n else "", components.entity_code(entity)]
    return components.empty_state(
        "The book is empty",
        "Every dashboard reads the desk's own records: accounts, strategies, signals and fills, paper trading, "
        "daily bars and backtests. Nothing is in yet.",
        [
            ["Send each kind to ", html.Code("POST /api/v1/ingest/<entity>"), " (JSON, NDJSON or CSV) or run ",
             html.Code("tradeboard import ENTITY FILE"), ", in this order: ", *order, "."],
            [html.Code("examples/"), " has a sample file for each: imported in that order, a small whole book."],
            ["Backtests: the form on the Strategies page, ", html.Code("POST /api/v1/backtests"), " or ",
             html.Code("tradeboard backtest"), " (once bars are in)."],
        ],
        note=components.DEMO_NOTE,
    )


def register(app: dash.Dash) -> None:
    app.clientside_callback(
        THEME_JS,
        Output(shell_ids.THEME_STORE, "data"),
        Output(shell_ids.THEME_SWITCH, "value"),
        Input(shell_ids.THEME_SWITCH, "value"),
        Input(shell_ids.THEME_STORE, "data"),
    )

    app.clientside_callback(
        NAVBAR_JS,
        Output(shell_ids.NAVBAR_COLLAPSE, "is_open"),
        Input(shell_ids.NAVBAR_TOGGLER, "n_clicks"),
        Input(shell_ids.LOCATION, "pathname"),
        State(shell_ids.NAVBAR_COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )

    @app.callback(Output(home_ids.STATUS, "children"), Input(home_ids.STATUS_TICK, "n_intervals"))
    def refresh_status(_n):
        report, _status = flask.current_app.extensions["tradeboard"].health()
        return status_pills(report)

    @app.callback(Output(home_ids.EMPTY, "children"), Input(home_ids.STATUS_TICK, "n_intervals"))
    def show_empty_book(_n):
        from data_access.book import book_contents

        try:
            contents = book_contents()
        except Exception:  # the database is down: the status strip says so
            return None
        return empty_book_guide(contents)
