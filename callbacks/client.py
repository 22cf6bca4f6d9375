"""What reacts on the client dashboard page."""

from __future__ import annotations


import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, ctx, html
from dash.exceptions import PreventUpdate

from callbacks import common, figures
from callbacks.common import money, number, panel_error, pct
from data_access.client_dashboard import client_dashboard_for
from layouts import client_ids as ids
from layouts import components

CLIENT_ROLES = {"admin", "analyst", "client"}
POSITIONS_GRID = "client-positions-grid"  # layouts/client.py's (to move to client_ids.py)
PANELS = {**ids.PANELS, "positions": "positions"}  # panel -> section, for error slots and freshness labels


def user_role() -> str | None:
    user = flask.g.get("user")
    role = getattr(user, "role", None)
    return getattr(role, "value", role)


def account_scope() -> tuple[str, ...]:
    """The accounts the signed-in user may see on this page: a client's ``account_scope`` (empty = all);
    admins and analysts see the whole fund."""
    user = flask.g.get("user")
    if user_role() != "client":
        return ()
    return tuple(getattr(user, "account_scope", ()) or ())


def kpi_values(overview: dict | None) -> tuple[list, list]:
    if overview is None:
        return ["—"] * len(ids.KPI_CARDS), [None] * len(ids.KPI_CARDS)
    pnl_pct = overview["total_pnl_pct"]
    tone = "text-success" if (overview["total_pnl"] or 0) >= 0 else "text-danger"
    values = {
        "total_aum": (money(overview["total_aum"]), None),
        "total_equity": (money(overview["total_equity"]), html.Span(f"cash {money(overview['cash'])}", className="text-body-secondary")),
        "total_pnl": (html.Span(money(overview["total_pnl"], signed=True), className=tone),
                      html.Span(pct(pnl_pct, 2, signed=True), className=tone)),
        "margin_utilization": (pct(overview["margin_utilization"]), html.Span(f"{money(overview['margin_used'])} used", className="text-body-secondary")),
        "number_of_strategies": (f"{overview['number_of_strategies']}", None),
        "open_positions": (f"{overview['open_positions']}", None),
    }
    return [values[k][0] for k, _ in ids.KPI_CARDS], [values[k][1] for k, _ in ids.KPI_CARDS]


def risk_values(risk: dict | None) -> list[str]:
    if risk is None:
        return ["—"] * len(ids.RISK_ROWS)
    shown = {
        "max_drawdown": pct(risk["max_drawdown"], 2),
        "var_95": money(risk["var_95"]),
        "var_95_parametric": money(risk["var_95_parametric"]),
        "cvar_95": money(risk["cvar_95"]),
        "portfolio_beta": number(risk["portfolio_beta"]),
        "volatility": pct(risk["volatility"]),
        "sharpe_ratio": number(risk["sharpe_ratio"]),
        "sortino_ratio": number(risk["sortino_ratio"]),
    }
    return [shown[key] for key, _ in ids.RISK_ROWS]


def empty_book(doc: dict | None):
    """The page's empty state when the fund has no accounts at all (not when they failed to load)."""
    if not doc or doc.get("accounts") != []:
        return None
    return components.empty_state(
        "No accounts yet",
        "The fund overview is drawn from your accounts, their daily snapshots, strategies, signals and fills.",
        [components.ingest_step("accounts", "accounts.csv"),
         components.then_step(["account-snapshots", "strategies", "signals", "executions"])],
        note=components.DEMO_NOTE,
    )


def register(app: dash.Dash) -> None:
    common.register_refresh_interval(app, ids.REFRESH_EVERY, ids.TICK)

    @app.callback(
        Output(ids.DOCUMENT, "data"),
        Output(ids.STATUS, "children"),
        Input(ids.TIME_RANGE, "value"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.REFRESH_NOW, "n_clicks"),
    )
    def load_document(time_range: str, _ticks, _clicks):
        if user_role() not in CLIENT_ROLES:
            return None, dbc.Alert("Your role may not see the client dashboard.", color="warning")
        force = ctx.triggered_id == ids.REFRESH_NOW
        accounts = account_scope()
        return common.load_document(
            lambda settings: client_dashboard_for(settings, time_range, force=force, accounts=accounts))

    kpi_outputs = [Output(ids.kpi(key), "children") for key, _ in ids.KPI_CARDS]
    kpi_subs = [Output(ids.kpi_sub(key), "children") for key, _ in ids.KPI_CARDS]
    risk_outputs = [Output(ids.risk(key), "children") for key, _ in ids.RISK_ROWS]
    error_outputs = [Output(ids.error(panel), "children") for panel in PANELS]

    @app.callback(
        *kpi_outputs, *kpi_subs, *risk_outputs, *error_outputs,
        Output(ids.EQUITY_CHART, "figure"),
        Output(ids.ALLOCATION_CHART, "figure"),
        Output(ids.RETURNS_CHART, "figure"),
        Output(ids.ACCOUNTS_GRID, "rowData"),
        Output(ids.STRATEGIES_GRID, "rowData"),
        Output(ids.SIGNALS_GRID, "rowData"),
        Output(POSITIONS_GRID, "rowData"),
        Input(ids.DOCUMENT, "data"),
    )
    def render(doc: dict | None):
        if not doc:
            raise PreventUpdate
        values, subs = kpi_values(doc["overview"])
        return (
            *values, *subs, *risk_values(doc["risk_metrics"]),
            *[panel_error(doc, PANELS[panel]) for panel in PANELS],
            figures.equity_drawdown_figure(doc["equity_curve"] or []),
            figures.allocation_figure(doc["strategy_performance"] or []),
            figures.daily_returns_figure(doc["daily_returns"] or []),
            doc["accounts"] or [],
            doc["strategy_performance"] or [],
            doc["recent_signals"] or [],
            doc["positions"] or [],  # each with its price's freshness (price_stale, price_age_seconds)
        )

    common.register_empty_state(app, ids.EMPTY, ids.BODY, [Input(ids.DOCUMENT, "data")], empty_book)
    common.register_freshness_labels(app, ids.DOCUMENT, ids.CLOCK, PANELS, ids.freshness)
    common.register_csv_buttons(app, (ids.ACCOUNTS_GRID, ids.STRATEGIES_GRID, ids.SIGNALS_GRID, POSITIONS_GRID),
                                ids.csv_button)

    common.register_json_download(app, ids.DOWNLOAD_JSON, ids.DOWNLOAD_JSON_BUTTON, ids.DOCUMENT,
                                  may_download=lambda _doc: user_role() in CLIENT_ROLES,
                                  filename=lambda doc: f"client-dashboard-{doc['time_range']}.json")
