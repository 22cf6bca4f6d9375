"""The "Run a backtest or sweep" form: validated in the web process (the user's role, the engine's
rules), run as a Dash background callback on the project's Celery workers (CeleryManager) with a
progress bar and a cancel button.

The background job runs on a worker, outside any user's request, so it only runs what the web
process validated and signed: the submit callback checks the role and the request and hands the job
a ticket signed with SECRET_KEY (shared by web and workers); a forged or stale ticket runs nothing.
"""

from __future__ import annotations

import flask
import itsdangerous
from dash import ALL, Dash, Input, Output, State, no_update

from layouts import backtest_form
from layouts import strategies_ids as ids

FORM_ROLES = ("admin", "analyst", "developer")
TICKET_MAX_AGE_SECONDS = 600
TICKET_SALT = "tradeboard-backtest-form"


def _role() -> str | None:
    role = getattr(flask.g.get("user"), "role", None)
    return getattr(role, "value", role)


def parse_values(raw: str | None) -> str | list[str]:
    """``"5, 10,20"`` -> ``["5", "10", "20"]`` (a sweep axis); one value stays a value."""
    parts = [p.strip() for p in str(raw or "").split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


def build_request(kind, symbols, names, values, cash, start, end) -> dict:
    request = {"strategy": kind, "symbols": list(symbols or []), "cash": cash,
               "params": {n["name"]: parse_values(v) for n, v in zip(names, values) if str(v or "").strip()}}
    if start:
        request["start"] = start
    if end:
        request["end"] = end
    return request


def progress_text(status: dict) -> tuple[float, str]:
    p = status["progress"]
    done = p["completed"] + p["failed"]
    failed = f", {p['failed']} failed" if p["failed"] else ""
    return p["percent"], f"{done}/{p['total']} runs{failed}"


def outcome_text(status: dict) -> str:
    p = status["progress"]
    if status["state"] == "REVOKED":
        return f"Cancelled after {p['completed']} of {p['total']} runs (those are stored)."
    text = f"Done: {p['completed']} of {p['total']} runs stored"
    if p["failed"]:
        text += f", {p['failed']} failed ({status['errors'][0]['symbol']}: {status['errors'][0]['error']})"
    rec = status.get("recommendation")
    if rec:
        out = rec["out_of_sample_sharpe"]
        text += (f". Best in-sample: {rec['configuration']} (Sharpe {rec['in_sample_sharpe']:.2f} in-sample, "
                 f"{'n/a' if out is None else f'{out:.2f}'} out-of-sample)")
    return text + "."


def register(app: Dash) -> None:
    secret = app.server.config["SECRET_KEY"]
    signer = itsdangerous.URLSafeTimedSerializer(secret, salt=TICKET_SALT)

    @app.callback(Output(ids.FORM_PARAMS, "children"), Input(ids.FORM_KIND, "value"), prevent_initial_call=True)
    def show_parameters(kind):
        return backtest_form.param_fields(kind)

    @app.callback(Output(ids.FORM_SYMBOLS, "options"), Output(ids.FORM_SYMBOLS, "value"),
                  Input(ids.FORM_SYMBOLS, "id"))
    def symbol_choices(_id):
        from data_access.bars_import import stored_series
        from data_access.db import current_engine

        if _role() not in FORM_ROLES:
            return [], []
        symbols = sorted({s["symbol"] for s in stored_series(current_engine()) if s["timeframe"] == "1d"})
        return symbols, symbols[:1]

    @app.callback(
        Output(ids.FORM_TICKET, "data"),
        Output(ids.FORM_MESSAGE, "children"),
        Input(ids.FORM_RUN, "n_clicks"),
        State(ids.FORM_KIND, "value"), State(ids.FORM_SYMBOLS, "value"),
        State({"type": ids.FORM_PARAM, "name": ALL}, "id"), State({"type": ids.FORM_PARAM, "name": ALL}, "value"),
        State(ids.FORM_CASH, "value"), State(ids.FORM_START, "value"), State(ids.FORM_END, "value"),
        prevent_initial_call=True,
    )
    def submit(_clicks, kind, symbols, names, values, cash, start, end):
        from data_access import sweeps

        if _role() not in FORM_ROLES:
            return None, "Your role may not run backtests."
        try:
            spec = sweeps.plan(build_request(kind, symbols, names, values, cash, start, end))
        except sweeps.InvalidBacktestRequest as exc:
            valid = exc.details.get("valid") or exc.details.get("available")
            return None, f"Not started: {exc}" + (f" (valid: {', '.join(map(str, valid))})" if valid else "")
        runs = len(sweeps.members(spec))
        skipped = f"; {len(spec['skipped'])} combinations skipped (fast >= slow ...)" if spec["skipped"] else ""
        return signer.dumps({"spec": spec}), f"Starting {runs} run{'s' if runs != 1 else ''}{skipped}."

    if getattr(app, "_background_manager", None) is None:  # no Celery (no REDIS_URL): say so
        @app.callback(Output(ids.FORM_DONE, "data"), Output(ids.error("form"), "children"),
                      Input(ids.FORM_TICKET, "data"), prevent_initial_call=True)
        def no_workers(_ticket):
            return no_update, "Running backtests from the page needs Redis and a Celery worker (REDIS_URL)."
        return

    @app.callback(
        Output(ids.FORM_DONE, "data"),
        Output(ids.error("form"), "children"),
        Output(ids.FORM_PROGRESS, "value", allow_duplicate=True),  # the final figures stay on the bar
        Output(ids.FORM_PROGRESS, "label", allow_duplicate=True),
        Input(ids.FORM_TICKET, "data"),
        background=True,
        running=[(Output(ids.FORM_RUN, "disabled"), True, False), (Output(ids.FORM_CANCEL, "disabled"), False, True)],
        cancel=[Input(ids.FORM_CANCEL, "n_clicks")],
        progress=[Output(ids.FORM_PROGRESS, "value"), Output(ids.FORM_PROGRESS, "label"), Output(ids.FORM_TASK, "data")],
        progress_default=[0, "", None],
        prevent_initial_call=True,
    )
    def run_sweep(set_progress, ticket):
        from tasks.backtests import run_sweep_here

        if not ticket:
            return no_update, no_update, no_update, no_update
        try:
            spec = signer.loads(ticket, max_age=TICKET_MAX_AGE_SECONDS)["spec"]
        except itsdangerous.BadData:
            return no_update, "This request was not issued by the server (or is too old): nothing was run.", 0, ""
        final = run_sweep_here(spec, report=lambda status: set_progress((*progress_text(status), status["task_id"])))
        return {"task_id": final["task_id"], "message": outcome_text(final)}, None, *progress_text(final)

    @app.callback(Output(ids.FORM_MESSAGE, "children", allow_duplicate=True), Input(ids.FORM_DONE, "data"),
                  prevent_initial_call=True)
    def show_outcome(done):
        return done["message"] if done else no_update

    @app.callback(Output(ids.FORM_MESSAGE, "children", allow_duplicate=True), Input(ids.FORM_CANCEL, "n_clicks"),
                  State(ids.FORM_TASK, "data"), prevent_initial_call=True)
    def cancel(_clicks, task_id):
        from data_access import sweeps

        if _role() not in FORM_ROLES or not task_id:
            return no_update
        try:
            status = sweeps.cancel(task_id)
            sweeps.finish(status["sweep_id"])
        except sweeps.SweepNotFound:
            return "Nothing to cancel."
        return outcome_text(sweeps.progress(task_id))
