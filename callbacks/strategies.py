"""What reacts on the strategy-performance page: the document (time range, refresh, heatmap axes),
its charts and grid, the sweep recommendation, and the drill-down into one run."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import flask
from dash import Input, Output, ctx, html, no_update
from dash.exceptions import PreventUpdate

from callbacks import common
from callbacks import strategy_figures as figs
from callbacks.common import money, number, panel_error, pct
from data_access import strategy_dashboard as sd
from data_access.book import book_contents
from data_access.run_detail import RunNotFound, run_chart
from layouts import components
from layouts import strategies_ids as ids

STRATEGY_ROLES = {"admin", "analyst", "developer"}  # as GET /api/v1/dashboards/strategy-performance
HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}


def user_role() -> str | None:
    role = getattr(flask.g.get("user"), "role", None)
    return getattr(role, "value", role)


def allowed() -> bool:
    return user_role() in STRATEGY_ROLES


def _options(values: list[str]) -> list[dict]:
    return [{"label": v.replace("_", " "), "value": v} for v in values]


def heatmap_controls(axes: dict | None) -> tuple:
    """(kind options, kind, x options, x, y options, y) from the document's ``heatmap_axes``."""
    if not axes:
        return [], None, [], None, [], None
    kinds = list(axes["strategy_kinds"])
    if axes["strategy_kind"] not in kinds:  # a kind with no runs in this range stays selectable
        kinds.append(axes["strategy_kind"])
    params = _options(axes["parameters"])
    return _options(kinds), axes["strategy_kind"], params, axes["x_param"], params, axes["y_param"]


def build_document(time_range: str, force: bool, kind: str | None, x: str | None, y: str | None) -> dict:
    """The document with the asked heatmap axes; axes no longer valid (another kind's parameter)
    fall back to the kind's defaults, and an unknown kind to the first kind with runs."""
    try:
        return sd.strategy_dashboard(time_range, force=force, heatmap_kind=kind, heatmap_x=x, heatmap_y=y)
    except sd.InvalidHeatmapAxes:
        try:
            return sd.strategy_dashboard(time_range, force=force, heatmap_kind=kind)
        except sd.InvalidHeatmapAxes:
            return sd.strategy_dashboard(time_range, force=force)


def _when(iso: str | None) -> str:
    return "no runs completed" if not iso else f"last run completed {iso[:16].replace('T', ' ')} UTC"


def ml_card(ml: dict | None):
    """The latest sweep's recommendation: in-sample vs out-of-sample Sharpe and what the gap means."""
    if not ml:
        return html.P("No parameter sweep has recommended a configuration in this range yet. A sweep picks the "
                      "configuration with the best Sharpe on the first 70 % of its window and checks it on the last "
                      "30 %; its result will show here.", className="text-body-secondary small mb-0")
    inside, outside = ml.get("in_sample_sharpe"), ml.get("out_of_sample_sharpe")
    color, hint = overfitting_hint(inside, outside)

    def figure(label: str, value, tone: str):
        return dbc.Col(html.Div([html.Div(label, className="small text-body-secondary"),
                                 html.Div(number(value), className=f"fs-3 fw-semibold {tone}")],
                                className="border rounded p-2 h-100"), xs=6)

    rank = ml.get("out_of_sample_rank")
    details = [f"sweep {ml.get('sweep_id')}"]
    if ml.get("completed_at"):
        details.append(f"completed {str(ml['completed_at'])[:10]}")
    if rank and ml.get("candidates"):
        details.append(f"ranked {rank} of {ml['candidates']} out of sample")
    if ml.get("symbols"):
        details.append(", ".join(ml["symbols"]))
    children = [
        html.Div("Recommended configuration", className="small text-body-secondary"),
        html.Code(ml.get("configuration") or "—", className="d-block text-wrap mb-1"),
        html.Div(" · ".join(details), className="small text-body-secondary mb-2"),
        dbc.Row([figure("In-sample Sharpe", inside, ""),
                 figure("Out-of-sample Sharpe", outside, "text-success" if (outside or 0) > 0 else "text-danger")],
                className="g-2 mb-2"),
        dbc.Alert(hint, color=color, className="py-1 px-2 mb-0 small"),
    ]
    best = ml.get("best_out_of_sample_configuration")
    if best and best != ml.get("configuration"):
        children.insert(-1, html.Div(["Best out of sample: ", html.Code(best), f" ({number(ml.get('best_out_of_sample_sharpe'))})"],
                                     className="small text-body-secondary mb-2"))
    return html.Div(children)


def overfitting_hint(inside: float | None, outside: float | None) -> tuple[str, str]:
    """(alert colour, a plain-words reading of in-sample vs out-of-sample Sharpe)."""
    if inside is None or outside is None:
        return "secondary", "Not enough data to compare in-sample and out-of-sample Sharpe."
    if inside <= 0:
        return "danger", "Even the best in-sample Sharpe is not positive: no configuration in this sweep earned its risk."
    if outside <= 0:
        return "danger", ("Likely overfitted: it lost money on the data it was not chosen on. "
                          "Do not trust the in-sample number.")
    kept = outside / inside
    if kept >= 0.75:
        return "success", (f"Holds up: out of sample it kept {kept:.0%} of its in-sample Sharpe, so the edge is "
                           "probably not just fitted to noise.")
    if kept >= 0.4:
        return "warning", (f"Some overfitting: out of sample it kept only {kept:.0%} of its in-sample Sharpe. "
                           "Expect less than the in-sample number.")
    return "danger", (f"Likely overfitted: out of sample it kept only {kept:.0%} of its in-sample Sharpe. "
                      "The in-sample number is mostly luck.")


def run_summary(run: dict) -> list:
    def badge(label, value):
        return html.Span([html.Span(label, className="text-body-secondary me-1"), value],
                         className="border rounded px-2 py-1 text-nowrap")

    return [
        badge("Window", f"{run['start'][:10]} → {run['end'][:10]}"),
        badge("Return", pct(run["total_return_pct"], 2)),
        badge("Sharpe", number(run["sharpe_ratio"])),
        badge("Max DD", pct(run["max_drawdown_pct"], 2)),
        badge("Win rate", pct(run["win_rate_pct"])),
        badge("Trades", f"{run['number_of_trades'] or 0:,}"),
        badge("Cash", money(run["cash"])),
        badge("Regime", run["volatility_regime"] or "—"),
    ]


def empty_book(doc: dict | None):
    """The page's empty state while no backtest has completed, in any range."""
    if not doc or doc.get("backtest_count") or not allowed():
        return None
    contents = book_contents()
    if contents["backtests"]:
        return None  # runs exist, just not in this range: the charts say so
    return components.empty_state(
        "No backtests yet",
        "This page compares completed backtests by volatility regime, symbol and parameters.",
        components.backtest_steps("with the form below", contents["bars"]))


def register(app: dash.Dash) -> None:
    common.register_refresh_interval(app, ids.REFRESH_EVERY, ids.TICK)

    @app.callback(
        Output(ids.DOCUMENT, "data"),
        Output(ids.STATUS, "children"),
        Output(ids.HEATMAP_KIND, "options"), Output(ids.HEATMAP_KIND, "value"),
        Output(ids.HEATMAP_X, "options"), Output(ids.HEATMAP_X, "value"),
        Output(ids.HEATMAP_Y, "options"), Output(ids.HEATMAP_Y, "value"),
        Input(ids.TIME_RANGE, "value"),
        Input(ids.TICK, "n_intervals"),
        Input(ids.REFRESH_NOW, "n_clicks"),
        Input(ids.HEATMAP_KIND, "value"),
        Input(ids.HEATMAP_X, "value"),
        Input(ids.HEATMAP_Y, "value"),
        Input(ids.FORM_DONE, "data"),  # a sweep from the form finished: show its runs
    )
    def load_document(time_range, _ticks, _clicks, kind, x, y, _sweep_done):
        if not allowed():
            return (None, dbc.Alert("Your role may not see the strategy dashboard.", color="warning"),
                    [], None, [], None, [], None)
        if time_range not in sd.TIME_RANGES:
            time_range = sd.DEFAULT_TIME_RANGE
        if ctx.triggered_id == ids.HEATMAP_KIND:  # a new kind starts on its own first two parameters
            x = y = None
        force = ctx.triggered_id == ids.REFRESH_NOW
        doc, status = common.load_document(lambda _settings: build_document(time_range, force, kind, x, y))
        if doc is no_update:
            return doc, status, *([no_update] * 6)
        return doc, status, *heatmap_controls(doc.get("heatmap_axes"))

    error_outputs = [Output(ids.error(panel), "children") for panel in ids.PANELS]

    @app.callback(
        Output(ids.BACKTEST_COUNT, "children"),
        Output(ids.LAST_UPDATED, "children"),
        *error_outputs,
        Output(ids.VOLATILITY_CHART, "figure"),
        Output(ids.SYMBOL_CHART, "figure"),
        Output(ids.SHARPE_CHART, "figure"),
        Output(ids.HEATMAP_CHART, "figure"),
        Output(ids.ML_CARD, "children"),
        Output(ids.CONFIGURATIONS_GRID, "rowData"),
        Input(ids.DOCUMENT, "data"),
    )
    def render(doc: dict | None):
        if not doc or not allowed():
            raise PreventUpdate
        count = doc.get("backtest_count")
        return (
            "—" if count is None else f"{count:,} backtest" + ("" if count == 1 else "s"),
            _when(doc.get("last_updated")),
            *[panel_error(doc, section) for section in ids.PANELS.values()],
            figs.volatility_figure(doc["byVolatility"] or []),
            figs.symbol_figure(doc["bySymbol"] or []),
            figs.sharpe_over_time_figure(doc["sharpeOverTime"] or []),
            figs.heatmap_figure(doc["heatmap"] or [], doc.get("heatmap_axes")),
            ml_card(doc.get("mlOptimization")),
            doc["configurations"] or [],
        )

    common.register_empty_state(app, ids.EMPTY, ids.BODY, [Input(ids.DOCUMENT, "data")], empty_book)
    common.register_freshness_labels(app, ids.DOCUMENT, ids.CLOCK, ids.PANELS, ids.freshness)
    common.register_csv_buttons(app, (ids.CONFIGURATIONS_GRID, ids.TRADES_GRID), ids.csv_button)
    common.register_json_download(app, ids.DOWNLOAD_JSON, ids.DOWNLOAD_JSON_BUTTON, ids.DOCUMENT,
                                  may_download=lambda _doc: allowed(),
                                  filename=lambda doc: f"strategy-performance-{doc['time_range']}.json")

    @app.callback(Output(ids.RUN, "data"), Input(ids.CONFIGURATIONS_GRID, "selectedRows"), prevent_initial_call=True)
    def select_run(rows):
        if not rows or rows[0].get("latest_run_id") is None:
            raise PreventUpdate
        return rows[0]["latest_run_id"]

    @app.callback(
        Output(ids.DRILLDOWN, "style"),
        Output(ids.DRILLDOWN_TITLE, "children"),
        Output(ids.DRILLDOWN_SUMMARY, "children"),
        Output(ids.error("drilldown"), "children"),
        Output(ids.CANDLES_CHART, "figure"),
        Output(ids.RUN_EQUITY_CHART, "figure"),
        Output(ids.TRADES_GRID, "rowData"),
        Output(ids.PLAYBACK_LINK, "href"),
        Input(ids.RUN, "data"),
    )
    def show_run(run_id):
        if run_id is None or not allowed():
            return HIDDEN, "Run", [], None, no_update, no_update, [], "/playback"
        try:
            chart = run_chart(int(run_id))
        except (RunNotFound, ValueError, TypeError):
            return (SHOWN, f"Run {run_id}", [], dbc.Alert(f"There is no backtest run {run_id}.", color="warning",
                                                          className="py-1 px-2 mb-0 small"),
                    figs.empty_figure("No such run"), figs.empty_figure("No such run"), [], "/playback")
        except Exception as exc:  # e.g. the database is down: say so in the panel
            return (SHOWN, f"Run {run_id}", [], panel_error({"errors": {"run": str(exc)}}, "run"),
                    no_update, no_update, no_update, no_update)
        run = chart["run"]
        title = [f"Run {run['id']} · {run['symbol']} · ", html.Code(run["configuration"])]
        return (SHOWN, title, run_summary(run), None, figs.candles_figure(chart), figs.run_equity_figure(chart),
                chart["trades"], f"/playback?run={run['id']}")

