"""`/api/v1/playback`: a stored run's bars and fills in chunks (replay), and live runs on a Celery
worker read back from their Redis stream by last-seen id. Roles admin, analyst, developer."""

from __future__ import annotations

import flask

from app.auth import json_error, json_response, require_role
from data_access.models import as_row_id

blueprint = flask.Blueprint("playback_api", __name__, url_prefix="/api/v1/playback")

ROLES = ("admin", "analyst", "developer")


def _int_arg(name: str, default: int) -> int:
    raw = flask.request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None


@blueprint.get("/runs/<run_id>")
@require_role(*ROLES)
def run_header(run_id: str):
    from data_access import playback

    key = as_row_id(run_id)
    if key is None:
        return json_error(404, "not_found", f"no backtest run {run_id!r} (ids are whole numbers)", {"run_id": run_id})
    try:
        return json_response(playback.run_header(key))
    except playback.PlaybackNotFound as exc:
        return json_error(404, "not_found", str(exc), {"run_id": run_id})


@blueprint.get("/runs/<run_id>/chunk")
@require_role(*ROLES)
def run_chunk(run_id: str):
    """?start=0&count=5000 -> {run_id, start, count, total, t, o, h, l, c, v, eq, ev}."""
    from data_access import playback

    key = as_row_id(run_id)
    if key is None:
        return json_error(404, "not_found", f"no backtest run {run_id!r} (ids are whole numbers)", {"run_id": run_id})
    try:
        start = _int_arg("start", 0)
        count = _int_arg("count", playback.DEFAULT_CHUNK)
        return json_response(playback.run_events(key, start, count),
                             headers={"Cache-Control": "private, max-age=300"})
    except ValueError as exc:  # InvalidChunk is a ValueError
        return json_error(400, "invalid_request", str(exc), {"max_count": playback.MAX_CHUNK})
    except playback.PlaybackNotFound as exc:
        return json_error(404, "not_found", str(exc), {"run_id": run_id})


@blueprint.post("/live")
@require_role(*ROLES)
def start_live():
    """{symbol, strategy, params, cash[, timeframe, start, end, bars_per_second]} -> 202 {id, poll_url}."""
    from analytics import backtest as bt
    from data_access import playback
    from tasks.playback import start_live as queue

    body = flask.request.get_json(silent=True)
    try:
        spec = playback.parse_live_request(body)
    except bt.UnknownStrategy as exc:
        return json_error(400, "invalid_request", str(exc), {"valid_kinds": list(bt.STRATEGIES)})
    except bt.InvalidParameters as exc:
        kind = (body or {}).get("strategy") or (body or {}).get("kind")
        return json_error(400, "invalid_request", str(exc), {"schema": bt.strategy_kind(kind).schema()})
    except ValueError as exc:
        return json_error(400, "invalid_request", str(exc))
    live_id = queue(spec)
    poll_url = flask.url_for("playback_api.poll_live", live_id=live_id)
    return json_response({"id": live_id, "poll_url": poll_url, "spec": spec}, 202, {"Location": poll_url})


@blueprint.get("/live/<live_id>")
@require_role(*ROLES)
def poll_live(live_id: str):
    """?after=<last-seen entry id>&max=500 -> {id, status, total, last_id, count, finished, events}."""
    from data_access import playback

    try:
        body = playback.read_live(live_id, flask.request.args.get("after", "0"), _int_arg("max", 500))
    except playback.PlaybackNotFound as exc:
        return json_error(404, "not_found", str(exc), {"id": live_id})
    except ValueError as exc:
        return json_error(400, "invalid_request", str(exc))
    return flask.Response(body, mimetype="application/json", headers={"Cache-Control": "no-store"})
