"""What reacts on the signal-sender page. Access is enforced here, not only in the options: a
developer gets data only for strategies they develop, whatever strategy name the browser sends."""

from __future__ import annotations

import csv
import io

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate

from callbacks import figures
from callbacks import common
from callbacks.common import current_user, money, number, panel_error, pct
from data_access import signal_sender_dashboard as ssd
from data_access.book import has_signals
from layouts import components
from layouts import signal_sender_ids as ids

SENDER_ROLES = {"admin", "analyst", "developer"}
EMPTY_PAGE = {"rowData": [], "rowCount": 0}
HISTORY_FIELDS = ["signal_id", "sent_at", "symbol", "side", "quantity_requested", "quantity_filled", "fill_price",
                  "status", "reject_reason", "pnl"]


def readable(strategy_name: str | None) -> dict | None:
    """The strategy's info if the signed-in user may read it, else None."""
    user = current_user()
    if not strategy_name or user is None or user.role not in SENDER_ROLES:
        return None
    try:
        info = ssd.strategy_info(strategy_name)
    except ssd.StrategyNotFound:
        return None
    return info if ssd.may_read_strategy(user, info) else None


def kpi_values(perf: dict | None) -> tuple[list, list]:
    if perf is None:
        return ["—"] * len(ids.KPI_CARDS), [None] * len(ids.KPI_CARDS)

    def count(key):
        return "—" if perf[key] is None else f"{perf[key]:,}"

    total = perf["total_pnl"]
    tone = "text-success" if (total or 0) >= 0 else "text-danger"
    muted = "text-body-secondary"
    values = {
        "total_signals_sent": (count("total_signals_sent"),
                               html.Span(f"{perf['signals_pending'] or 0} pending · {perf['signals_cancelled'] or 0} cancelled",
                                         className=muted) if perf["signals_pending"] is not None else None),
        "signals_filled": (count("signals_filled"), None),
        "signals_rejected": (count("signals_rejected"), None),
        "fill_rate": (pct(perf["fill_rate"]), None),
        "total_pnl": (html.Span(money(total, signed=True), className=tone),
                      html.Span(f"realized {money(perf['realized_pnl'], signed=True)}", className=muted)
                      if perf["realized_pnl"] is not None else None),
        "win_rate": (pct(perf["win_rate"]),
                     html.Span(f"{perf['number_of_trades']} trades", className=muted)
                     if perf["number_of_trades"] is not None else None),
        "profit_factor": (number(perf["profit_factor"]),
                          html.Span(f"avg win {money(perf['avg_win'])} · loss {money(perf['avg_loss'])}", className=muted)
                          if perf["number_of_trades"] else None),
        "sharpe_ratio": (number(perf["sharpe_ratio"]), None),
    }
    return [values[k][0] for k, _ in ids.KPI_CARDS], [values[k][1] for k, _ in ids.KPI_CARDS]


def lag_text(lag: dict | None) -> str:
    if not lag or lag["avg_signal_to_fill_seconds"] is None:
        return "No filled signals in this range."
    parts = [("avg", "avg"), ("median", "p50"), ("p95", "p95"), ("p99", "p99"), ("max", "max")]
    return " · ".join(f"{label} {lag[f'{key}_signal_to_fill_seconds']:.2f} s" for key, label in parts)


def empty_book(options: list | None, doc: dict | None):
    """The page's empty state: no strategies (of this developer's, for a developer), or a chosen
    strategy that has never sent a signal."""
    user = current_user()
    if user is None or user.role not in SENDER_ROLES:
        return None
    if options == []:
        if user.role == "developer":
            return components.empty_state(
                "No strategies of yours yet",
                "This page shows the strategies you develop. An admin names you as a strategy's developer: "
                "the developer column of its row.",
                [[html.Code("POST /api/v1/ingest/strategies"), " or ", html.Code("tradeboard import strategies FILE"),
                  " with ", html.Code(f"developer={user.username}"), " — see ", html.Code("examples/strategies.csv"),
                  "."]])
        return components.empty_state(
            "No strategies yet",
            "A strategy's page is drawn from its signals and their fills. Each strategy names its account, "
            "so the accounts come first.",
            [components.ingest_step("accounts", "accounts.csv", noun="the accounts"),
             components.ingest_step("strategies", "strategies.csv", noun="the strategies"),
             components.then_step(["signals", "executions"])],
            note=components.DEMO_NOTE)
    info = readable((doc or {}).get("strategy_name"))
    if info is None or has_signals(info["strategy_id"]):
        return None
    return components.empty_state(
        f"No signals from {info['strategy_name']} yet",
        "Its counts, fill rate, latency, PnL and positions follow its signals and their fills.",
        [components.ingest_step("signals", "signals.ndjson"), components.then_step(["executions"])])


def register(app: dash.Dash) -> None:
    @app.callback(Output(ids.STRATEGY, "options"), Output(ids.STRATEGY, "value"), Input(ids.INIT, "data"))
    def strategy_options(init):
        user = current_user()
        if user is None or user.role not in SENDER_ROLES:
            return [], None
        names = ssd.strategies_for(user.id if user.role == "developer" else None)
        wanted = (init or {}).get("strategy")
        return [{"label": n, "value": n} for n in names], wanted if wanted in names else (names[0] if names else None)

    common.register_refresh_interval(app, ids.REFRESH_EVERY, ids.TICK)

    @app.callback(
        Output(ids.DOCUMENT, "data"),
        Output(ids.STATUS, "children"),
        Input(ids.STRATEGY, "value"),
        Input(ids.TIME_RANGE, "value"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.REFRESH_NOW, "n_clicks"),
    )
    def load_document(strategy_name, time_range, _ticks, _clicks):
        user = current_user()
        if user is None or user.role not in SENDER_ROLES:
            return None, dbc.Alert("Your role may not see the signal-sender dashboard.", color="warning")
        if not strategy_name:
            return None, None  # the empty state says why (empty_book)
        if readable(strategy_name) is None:
            return None, dbc.Alert(f"You may not read strategy {strategy_name!r}.", color="warning")
        force = ctx.triggered_id == ids.REFRESH_NOW
        return common.load_document(
            lambda settings: ssd.signal_sender_dashboard_for(settings, strategy_name, time_range, force=force))

    @app.callback(
        *[Output(ids.kpi(key), "children") for key, _ in ids.KPI_CARDS],
        *[Output(ids.kpi_sub(key), "children") for key, _ in ids.KPI_CARDS],
        *[Output(ids.error(panel), "children") for panel in ids.PANELS],
        Output(ids.PNL_CHART, "figure"),
        Output(ids.LATENCY_CHART, "figure"),
        Output(ids.REJECTIONS_CHART, "figure"),
        Output(ids.LAG_SUMMARY, "children"),
        Output(ids.POSITIONS_GRID, "rowData"),
        Output(ids.DEVELOPER, "children"),
        Input(ids.DOCUMENT, "data"),
    )
    def render(doc: dict | None):
        if not doc:
            raise PreventUpdate
        values, subs = kpi_values(doc["performance"])
        return (
            *values, *subs,
            *[panel_error(doc, ids.PANELS[panel]) for panel in ids.PANELS],
            figures.cumulative_pnl_figure(doc["cumulative_pnl"] or []),
            figures.latency_histogram_figure(doc["latency_histogram"], doc["lag_metrics"]),
            figures.rejection_reasons_figure(doc["rejection_reasons"] or []),
            lag_text(doc["lag_metrics"]),
            doc["current_positions"] or [],
            f"{doc['strategy_name']} · developed by {doc['developer_name'] or '—'}",
        )

    @app.callback(
        Output(ids.HISTORY_GRID, "getRowsResponse"),
        Input(ids.HISTORY_GRID, "getRowsRequest"),
        State(ids.STRATEGY, "value"),
    )
    def history_rows(request, strategy_name):
        if not request:
            raise PreventUpdate
        info = readable(strategy_name)
        if info is None:
            return EMPTY_PAGE
        try:
            page = ssd.signal_page(info["strategy_id"], request.get("startRow", 0), request.get("endRow", 50),
                                   request.get("sortModel"), request.get("filterModel"))
        except ssd.InvalidPageRequest:
            return EMPTY_PAGE
        return {"rowData": page["rows"], "rowCount": page["row_count"]}

    # A new strategy or a refresh empties the history grid's block cache (it asks for rows again);
    # an auto-refresh tick reloads the blocks it holds, keeping the scroll position.
    app.clientside_callback(
        """
        function(_strategy, _clicks, _ticks, gridId) {
            const trigger = (window.dash_clientside.callback_context.triggered[0] || {}).prop_id || "";
            try {
                const api = dash_ag_grid.getApi(gridId);
                if (trigger.startsWith("TICK_ID.")) { api.refreshInfiniteCache(); } else { api.purgeInfiniteCache(); }
            } catch (e) {
                // not initialised yet: its first request will read the strategy chosen now
            }
            return Date.now();
        }
        """.replace("TICK_ID", ids.TICK),
        Output(ids.PURGED, "data"),
        Input(ids.STRATEGY, "value"),
        Input(ids.REFRESH_NOW, "n_clicks"),
        Input(ids.TICK, "n_intervals"),
        State(ids.HISTORY_GRID, "id"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.HISTORY_CSV, "data"),
        Input(ids.csv_button(ids.HISTORY_GRID), "n_clicks"),
        State(ids.HISTORY_GRID, "getRowsRequest"),
        State(ids.STRATEGY, "value"),
        prevent_initial_call=True,
    )
    def history_csv(_clicks, request, strategy_name):
        """The history as CSV from the server, in the grid's current sort and filter (the grid itself
        holds only the blocks it has loaded)."""
        info = readable(strategy_name)
        if info is None:
            raise PreventUpdate
        request = request or {}
        try:
            page = ssd.signal_page(info["strategy_id"], 0, ssd.CSV_ROWS, request.get("sortModel"),
                                   request.get("filterModel"), max_rows=ssd.CSV_ROWS)
        except ssd.InvalidPageRequest:
            raise PreventUpdate from None
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(page["rows"])
        return {"content": buffer.getvalue(), "filename": f"signal-history-{slug(info['strategy_name'])}.csv",
                "type": "text/csv"}

    common.register_empty_state(app, ids.EMPTY, ids.BODY,
                                [Input(ids.STRATEGY, "options"), Input(ids.DOCUMENT, "data")], empty_book)
    common.register_freshness_labels(app, ids.DOCUMENT, ids.CLOCK, ids.PANELS, ids.freshness)
    common.register_csv_buttons(app, (ids.POSITIONS_GRID,), ids.csv_button)
    common.register_json_download(app, ids.DOWNLOAD_JSON, ids.DOWNLOAD_JSON_BUTTON, ids.DOCUMENT,
                                  may_download=lambda doc: readable(doc.get("strategy_name")) is not None,
                                  filename=json_filename)


def json_filename(doc: dict) -> str:
    return f"signal-sender-{slug(doc['strategy_name'])}-{doc['time_range']}.json"


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).lower()
