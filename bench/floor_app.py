"""The load test's floor (bench/load.py): a bare Flask app whose one endpoint returns the bytes
stored under ``FLOOR_KEY`` in ``REDIS_URL`` with one Redis GET. No auth, no monitoring, no
security headers: what gunicorn + Flask + one Redis round trip cost on this machine.

    REDIS_URL=redis://127.0.0.1:6379/0 FLOOR_KEY=tb:bench:floor gunicorn --chdir bench floor_app:app
"""

from __future__ import annotations

import os

import flask
import redis

_redis = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5, socket_connect_timeout=5)
_key = os.environ.get("FLOOR_KEY", "tb:bench:floor")

app = flask.Flask("floor")


@app.get("/floor")
def floor() -> flask.Response:
    body = _redis.get(_key)
    if body is None:
        return flask.Response(b'{"error": "no floor body in Redis"}', status=503, mimetype="application/json")
    return flask.Response(body, mimetype="application/json")
