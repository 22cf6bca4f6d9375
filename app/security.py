"""Request hardening: JSON errors on the API, body limits, rate limits, CSRF, cookies, headers.

- Every error under ``/api/`` (and on the compatibility routes) is ``{"error": {"code", "message",
  "details"}}`` with its status - 400, 401, 403, 404, 405, 413, 429, 500 - never an HTML page or a
  stack trace (500s are logged with their traceback, answered with an id to quote).
- Bodies larger than ``MAX_REQUEST_BYTES`` are refused (413) before they are read.
- Rate limits (Flask-Limiter on Redis, so every gunicorn worker counts together): failed sign-ins
  per username and per address (``LOGIN_RATE_LIMIT_PER_USER`` / ``_PER_ADDRESS``) and, when
  ``API_RATE_LIMIT`` is set, API requests per user or token. A limited request gets 429 with
  ``Retry-After``.
- CSRF: a state-changing request (POST, PUT, PATCH, DELETE) made with the session cookie must come
  from this origin: a browser always sends ``Origin`` on such requests (and ``Referer`` otherwise);
  one naming another site is refused (403). Bearer-token requests carry no ambient credential and
  are not checked. The sign-in form also has its own form token; the cookie is SameSite=Lax.
- The session cookie is HttpOnly, SameSite=Lax, and Secure whenever the request came over HTTPS
  (``request.is_secure``; behind a proxy set ``TRUSTED_PROXY_HOPS`` so X-Forwarded-Proto counts)
  or ``SESSION_COOKIE_SECURE`` is set.
- Headers on every response: a Content-Security-Policy Dash works under (scripts from this origin
  plus the hashes of the app's inline scripts; ``'unsafe-eval'`` because AG Grid compiles its
  column formatter functions; inline styles, which Plotly and Dash set), frame-ancestors 'none',
  X-Content-Type-Options, X-Frame-Options, Referrer-Policy.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import re
import time
import uuid
from urllib.parse import urlsplit

import flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from app.auth import json_error

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/health", "/metrics")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
                429: "rate_limited", 500: "internal_error"}


def wants_json(path: str | None = None) -> bool:
    path = flask.request.path if path is None else path
    return path.startswith(JSON_PREFIXES)


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure on HTTPS requests, whatever the configuration says."""

    def open_session(self, app: flask.Flask, request):
        # No cookie (every bearer-token API call): nothing to verify, so skip building the signer
        # Flask builds per request (3 % of a warm lite request); the new session is the same as Flask's.
        if app.secret_key and ("HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (flask.has_request_context()
                                                                 and flask.request.is_secure)


def csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def content_security_policy(script_hashes: list[str]) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval' " + " ".join(sorted(set(script_hashes))),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    """WSGI middleware: the security headers, each unless the response set its own, added to the
    plain header list on its way out. Werkzeug's ``Headers.setdefault`` per header, in an after-request
    hook, cost about 0.02 ms (3 %) of a warm lite request; the list costs a set of the names present."""

    def __init__(self, wsgi_app, server: flask.Flask) -> None:
        self.wsgi_app, self.server = wsgi_app, server

    def __call__(self, environ, start_response):
        def start_with_security_headers(status, headers, exc_info=None):
            present = {name.lower(): value for name, value in headers}
            headers.extend(self._missing(present))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_security_headers)

    def _missing(self, present: dict[str, str]) -> list[tuple[str, str]]:
        config = self.server.config
        dash_app = self.server.extensions.get("tb_dash_app")
        if dash_app is not None and present.get("content-type", "").startswith("text/html"):
            # Dash adds inline scripts of its own on its first page (e.g. the pages' title callback):
            # hash what a page can contain now, which is cheap and only on HTML responses
            config["TB_CONTENT_SECURITY_POLICY"] = _policy_for(dash_app)
        csp = config.get("TB_CONTENT_SECURITY_POLICY")
        wanted = _CONSTANT_SECURITY_HEADERS if not csp else (("Content-Security-Policy", csp), *_CONSTANT_SECURITY_HEADERS)
        return [(name, value) for name, value in wanted if name.lower() not in present]


_CONSTANT_SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                              ("Referrer-Policy", "same-origin"))


def _same_origin(value: str) -> bool:
    parts = urlsplit(value)
    return bool(parts.netloc) and parts.netloc == flask.request.host and parts.scheme == flask.request.scheme


def _csrf_check():
    request = flask.request
    if request.method not in UNSAFE_METHODS or request.headers.get("Authorization", "")[:7].lower() == "bearer ":
        return None
    if flask.current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return None  # no ambient credential: nothing to forge
    origin = request.headers.get("Origin")
    source = origin if origin and origin != "null" else request.headers.get("Referer")
    if source is None or _same_origin(source):
        return None
    return json_error(403, "csrf_failed", "Cross-site request refused: it must come from this site.",
                      {"origin": origin, "host": request.host})


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


_ID_PATHS = ("/api/v1/tasks/", "/api/v1/playback/")
_TEXT_PARAMETER_PATHS = ("/api/v1/dashboards/signal-sender", "/api/dashboards/signal-sender")


def _reject_control_characters():
    """PostgreSQL rejects NUL in text, so a control character must never reach a query: in an id
    path it names nothing (404); in the signal-sender's text parameters it is a 400."""
    request = flask.request
    if request.path.startswith(_ID_PATHS) and _CONTROL.search(request.path):
        return json_error(404, "not_found", "no such id", {})
    if request.path.startswith(_TEXT_PARAMETER_PATHS):
        for name, value in request.args.items(multi=True):
            if _CONTROL.search(value):
                return json_error(400, "invalid_parameter", "control characters are not allowed in parameters",
                                  {"parameter": name})
    return None


def _http_error(error: HTTPException):
    if error.code == 429 and not wants_json():
        from app.auth import render_login

        if flask.request.path == "/login":
            return render_login(f"Too many sign-in attempts. Try again in {_retry_after(error)} s.", 429)
    if not wants_json():
        return error
    code = error.code or 500
    details = {}
    if code == 405:
        details["allowed"] = sorted(error.valid_methods or [])
    if code == 413:
        details["max_bytes"] = flask.current_app.config.get("MAX_CONTENT_LENGTH")
    response = json_error(code, _ERROR_CODES.get(code, "http_error"), error.description or error.name, details)
    if code == 429:
        response.headers["Retry-After"] = str(_retry_after(error))
    if code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def _retry_after(error: HTTPException) -> int:
    limit = getattr(error, "limit", None)
    try:
        return max(1, int(limit.limit.get_expiry())) if limit is not None else 60
    except Exception:  # noqa: BLE001 - a hint only
        return 60


def _unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, flask.request.method, flask.request.path)
    if wants_json():
        return json_error(500, "internal_error", "The server failed to answer this request.", {"incident": incident})
    return flask.Response(f"Internal error (incident {incident}).", status=500, mimetype="text/plain")


def _rate_limit_key_user() -> str:
    return "login-user:" + flask.request.form.get("username", "").strip().lower()


def _rate_limit_key_api() -> str:
    user = flask.g.get("user")
    return f"user:{user.id}" if user is not None else f"addr:{flask.request.remote_addr}"


def _init_rate_limits(server: flask.Flask, settings) -> None:
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    limiter = Limiter(
        get_remote_address,
        app=server,
        storage_uri=settings.REDIS_URL or "memory://",
        storage_options={"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
        key_prefix="tb:rl",
        swallow_errors=True,  # Redis down: let requests through rather than fail them
        in_memory_fallback_enabled=True,
        headers_enabled=True,
        strategy="moving-window",
    )
    failed = lambda response: response.status_code == 401  # noqa: E731 - only failed sign-ins count
    login = server.view_functions["auth.login"]
    login = limiter.limit(settings.LOGIN_RATE_LIMIT_PER_ADDRESS, methods=["POST"], deduct_when=failed,
                          scope="login-address")(login)
    login = limiter.limit(settings.LOGIN_RATE_LIMIT_PER_USER, methods=["POST"], deduct_when=failed,
                          key_func=_rate_limit_key_user, scope="login-user")(login)
    server.view_functions["auth.login"] = login
    # There are no default or application-wide limits: the decorated sign-in checks its own, so the
    # extension's per-request check only ever finds nothing to count (7 % of a warm API request).
    server.before_request_funcs[None].remove(limiter._check_request_limit)
    # Its after-request hook (the failed-sign-in deduction and the X-RateLimit headers) likewise has
    # work only on the sign-in: 2 % of a warm lite request's GIL time when it ran for every request.
    after = server.after_request_funcs[None]
    [inject] = [i for i, hook in enumerate(after) if isinstance(hook, functools.partial) and hook.args[:1] == (limiter,)]
    after[inject] = _on_sign_in_only(after[inject])
    # Its teardown resets the per-request state those hooks keep, creating it first when nothing did.
    teardown = server.teardown_request_funcs[None]
    [release] = [i for i, hook in enumerate(teardown) if getattr(hook, "__self__", None) is limiter]
    teardown[release] = _when_limiter_state(teardown[release])
    if settings.API_RATE_LIMIT:
        server.before_request(_api_limit_hook(limiter, settings.API_RATE_LIMIT))
    server.extensions["tb_limiter"] = limiter


def _on_sign_in_only(hook):
    def after_sign_in(response: flask.Response) -> flask.Response:
        return hook(response) if flask.request.endpoint == "auth.login" else response

    return after_sign_in


def _when_limiter_state(hook):
    from flask_limiter._compat import request_context

    def release_limiter_state(exc: BaseException | None = None) -> None:
        if hasattr(request_context(), "_limiter_request_context"):  # the attribute Limiter.context creates
            hook(exc)

    return release_limiter_state


def _api_limit_hook(limiter, limit: str):
    """API requests per user (or address): one moving-window hit in Redis per request."""
    from limits import parse

    item = parse(limit)

    def check():
        if not flask.request.path.startswith("/api/") or flask.request.path == "/api/v1/health":
            return None
        key = _rate_limit_key_api()
        try:
            allowed = limiter.limiter.hit(item, "api", key)
        except Exception:  # noqa: BLE001 - Redis down: do not fail requests over a limit we cannot count
            return None
        if allowed:
            return None
        stats = limiter.limiter.get_window_stats(item, "api", key)
        response = json_error(429, "rate_limited", f"Rate limit exceeded: {limit}.", {"limit": limit})
        response.headers["Retry-After"] = str(max(1, int(stats.reset_time - time.time())))
        return response

    return check


def init_app(server: flask.Flask) -> None:
    from app.extensions import state

    settings = state(server).settings
    server.config["MAX_CONTENT_LENGTH"] = settings.MAX_REQUEST_BYTES
    server.config["SESSION_COOKIE_SECURE"] = settings.SESSION_COOKIE_SECURE
    server.session_interface = SessionInterface()
    if settings.TRUSTED_PROXY_HOPS:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.TRUSTED_PROXY_HOPS
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    server.before_request(_reject_control_characters)
    server.before_request(_csrf_check)
    server.wsgi_app = SecurityHeaders(server.wsgi_app, server)
    server.register_error_handler(HTTPException, _http_error)
    server.register_error_handler(Exception, _unexpected_error)
    _init_rate_limits(server, settings)


def _policy_for(dash_app) -> str:
    from app.auth import THEME_SCRIPT

    return content_security_policy(list(dash_app.csp_hashes()) + [csp_hash(THEME_SCRIPT)])


def finish(dash_app) -> None:
    """After every callback is registered: the CSP with the hashes of the app's inline scripts."""
    dash_app.server.extensions["tb_dash_app"] = dash_app
    dash_app.server.config["TB_CONTENT_SECURITY_POLICY"] = _policy_for(dash_app)
