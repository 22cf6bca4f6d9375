"""The web server's access log: tradeboard's cheaper logger writes exactly gunicorn's lines."""

from __future__ import annotations

import datetime as dt
import logging
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from app.access_log import AccessLogger


def lines_written(cls, path, requests, fmt: str | None = None, log_filter=None) -> list[str]:
    """The access log lines ``cls`` writes for ``requests`` (gunicorn's loggers share one logging
    logger, so each is set up, used and closed in turn)."""
    cfg = Config()
    cfg.set("accesslog", str(path))
    if fmt is not None:
        cfg.set("access_log_format", fmt)
    logger = cls(cfg)
    for handler in list(logger.access_log.handlers):
        if type(handler) is not logging.FileHandler:  # pytest's capture handlers: gunicorn's file only
            logger.access_log.removeHandler(handler)
    if log_filter is not None:
        logger.access_log.handlers[0].addFilter(log_filter)
    elif cls is AccessLogger and fmt is None:
        assert logger._plain_streams() == logger.access_log.handlers  # written to the file directly
    for resp, req, environ, took in requests:
        logger.access(resp, req, environ, took)
    for handler in list(logger.access_log.handlers):
        handler.close()
        logger.access_log.removeHandler(handler)
    return path.read_text().splitlines()


def _request(**environ):
    env = {"REMOTE_ADDR": "10.1.2.3", "REQUEST_METHOD": "GET", "RAW_URI": "/api/v1/dashboards/client?range=1M",
           "PATH_INFO": "/api/v1/dashboards/client", "QUERY_STRING": "range=1M", "SERVER_PROTOCOL": "HTTP/1.1",
           "HTTP_USER_AGENT": "wrk", "HTTP_AUTHORIZATION": "Bearer abc"}
    env.update(environ)
    resp = SimpleNamespace(status="200 OK", sent=25_831, headers=[("Content-Type", "application/json")])
    req = SimpleNamespace(headers=[("HOST", "127.0.0.1:8050"), ("USER-AGENT", "wrk")])
    return resp, req, env, dt.timedelta(microseconds=4_200)


@pytest.mark.parametrize("environ", [
    {},
    {"HTTP_REFERER": "http://127.0.0.1:8050/client", "HTTP_AUTHORIZATION": "Basic " + "YW5hbHlzdDpzZWNyZXQ="},
    {"REMOTE_ADDR": "::1", "HTTP_USER_AGENT": 'curl/8 "quoted"'},
])
def test_the_default_format_writes_gunicorns_line(tmp_path, environ):
    resp, req, env, took = _request(**environ)
    requests = [(resp, req, env, took), (SimpleNamespace(status=404, sent=None, headers=[]), req, env, took)]
    ours = lines_written(AccessLogger, tmp_path / "ours.log", requests)
    assert ours == lines_written(Logger, tmp_path / "theirs.log", requests)
    assert len(ours) == 2 and '"GET /api/v1/dashboards/client?range=1M HTTP/1.1" 200 25831' in ours[0]
    assert " 404 - " in ours[1]


def test_another_format_is_left_to_gunicorn(tmp_path):
    fmt = "%(h)s %({user-agent}i)s %(D)s"
    requests = [_request()]
    ours = lines_written(AccessLogger, tmp_path / "ours.log", requests, fmt)
    assert ours == lines_written(Logger, tmp_path / "theirs.log", requests, fmt) == ["10.1.2.3 wrk 4200"]


def test_a_filter_on_the_access_handler_still_applies(tmp_path):
    requests = [_request(), _request(RAW_URI="/api/v1/health")]
    no_health = lambda record: "/api/v1/health" not in record.getMessage()  # noqa: E731
    ours = lines_written(AccessLogger, tmp_path / "ours.log", requests, log_filter=no_health)
    assert ours == lines_written(Logger, tmp_path / "theirs.log", requests, log_filter=no_health)
    assert len(ours) == 1 and "/api/v1/dashboards/client" in ours[0]
