"""The request guard: who is asking (bearer token or session cookie), checked against the database on
every request (with a short fallback while it is unreachable), and what a request without a user gets
(401 JSON for APIs and Dash XHRs, a redirect to the login page for pages)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import time

import flask

from app.auth.identity import CurrentUser, current_user_from_row
from app.auth.lookups import SESSION_ROW, TOKEN_ROW, TOKEN_TOUCH
from app.auth.responses import json_error
from app.auth.users import token_digest
from data_access.models import Role

log = logging.getLogger(__name__)
SESSION_USER = "uid"
SESSION_AUTH_HASH = "auth"
TOKEN_TOUCH_SECONDS = 60
TOUCH_WAIT_SECONDS = 0.2  # SQLite: how long recording a token's use may wait for the write lock

# Paths anyone may request. Prefixes end with "/".
OPEN_PATHS = frozenset({"/login", "/logout", "/api/v1/health", "/favicon.ico", "/_favicon.ico"})
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/")
# Dash's own XHR endpoints: answered with 401 JSON rather than a redirect.
XHR_PREFIXES = ("/api/", "/_dash-", "/_reload-hash", "/health", "/metrics")


def session_auth_hash(password_hash: str) -> str:
    """Ties a session to the password it was opened with: changing the password ends it."""
    key = flask.current_app.secret_key
    key_bytes = key.encode() if isinstance(key, str) else key
    return hmac.new(key_bytes, password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def _is_open(path: str) -> bool:
    return (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)
            or path in flask.current_app.config.get("TB_PUBLIC_ROUTES", ()))  # compat routes made public


class DatabaseUnavailable(RuntimeError):
    pass


# Identities verified in the last AUTH_FALLBACK_SECONDS, per process: used only while the database
# cannot be asked (so a dashboard can still answer from the cache and report its failing sections);
# with the database up every request is checked against it, so a revoked token stops at once.
AUTH_FALLBACK_SECONDS = 300.0
_verified: dict[str, tuple[CurrentUser, float]] = {}


def _remember(key: str, user: CurrentUser | None) -> CurrentUser | None:
    if user is None:
        _verified.pop(key, None)
    else:
        _verified[key] = (user, time.monotonic())
    return user


def _verify(key: str, lookup) -> CurrentUser | None:
    """``lookup()`` against the database; while it is unreachable, the identity verified recently."""
    from sqlalchemy.exc import OperationalError

    try:
        return _remember(key, lookup())
    except OperationalError as exc:  # cannot connect / not accepting connections / timed out
        known = _verified.get(key)
        if known is not None and time.monotonic() - known[1] < AUTH_FALLBACK_SECONDS:
            return known[0]
        raise DatabaseUnavailable(str(exc.orig)[:200]) from None


def _user_from_bearer(header: str) -> CurrentUser | None:
    token = header[7:].strip()
    if not token:
        return None
    digest = token_digest(token)
    return _verify("token:" + digest, lambda: _user_from_token(digest))


# digest -> (the token's row as the driver returned it, its user, monotonic time its last use is due
# to be written): the row is read on every request, so a revocation or a changed user counts at once,
# and only an unchanged row skips being turned into a user again (dates parsed, scope split).
_token_users: dict[str, tuple[tuple, CurrentUser, float]] = {}
MAX_TOKEN_USERS = 4096


def _user_from_token(digest: str) -> CurrentUser | None:
    """The token's user in one prepared statement (no ORM session: this runs on every API call);
    the token's last use is written at most once a minute."""
    from app.extensions import state

    engine = state().engine
    raw = TOKEN_ROW.first_raw(engine, digest)
    if raw is None:
        return None
    known = _token_users.get(digest)
    if known is not None and known[0] == raw and time.monotonic() < known[2]:
        return known[1]
    row = TOKEN_ROW.converted(engine, raw)
    token_id, revoked, last_used_at = row[6:9]
    if revoked:
        return None
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    age = None if last_used_at is None else (now - last_used_at).total_seconds()
    if age is None or age >= TOKEN_TOUCH_SECONDS:
        _touch(engine, token_id, now)
        age = 0.0  # the row read next carries the new time, so this entry is not used again
    user = current_user_from_row(row)
    if user is not None:
        if len(_token_users) >= MAX_TOKEN_USERS:
            _token_users.clear()
        _token_users[digest] = (raw, user, time.monotonic() + TOKEN_TOUCH_SECONDS - age)
    return user


def _touch(engine, token_id: int, now: dt.datetime) -> None:
    """Record the token's use, best effort: on SQLite a backfill holds the one write lock for minutes,
    and every request of every token would queue behind it for a timestamp."""
    from sqlalchemy.exc import OperationalError

    from data_access.db import sqlite_lock_wait

    try:
        with engine.begin() as conn, sqlite_lock_wait(conn, TOUCH_WAIT_SECONDS):
            conn.execute(TOKEN_TOUCH, {"token_id": token_id, "now": now})
    except OperationalError as exc:
        log.info("token %s: last use not recorded (%s)", token_id, exc)


def _user_from_session() -> CurrentUser | None:
    uid = flask.session.get(SESSION_USER)
    if uid is None:
        return None
    return _verify(f"session:{uid}:{flask.session.get(SESSION_AUTH_HASH, '')}", lambda: _user_from_cookie(uid))


def _user_from_cookie(uid) -> CurrentUser | None:
    from app.extensions import state

    row = SESSION_ROW.first(state().engine, uid)
    if row is None:
        return None
    password_hash = row[6]
    if not hmac.compare_digest(flask.session.get(SESSION_AUTH_HASH, ""), session_auth_hash(password_hash)):
        return None
    return current_user_from_row(row)


INGEST_PREFIX = "/api/v1/ingest/"
# What an ingest account may use in a browser: the /import page, its routes and its callbacks.
INGEST_PAGE_PATHS = frozenset({"/import", "/_dash-layout", "/_dash-dependencies", "/_reload-hash"})
INGEST_PAGE_PREFIXES = ("/import/",)
INGEST_CALLBACK_IDS = ("import-", "shell-", "_pages_")


def _ingest_may_use(path: str) -> bool:
    if path.startswith(INGEST_PREFIX) or path in INGEST_PAGE_PATHS or path.startswith(INGEST_PAGE_PREFIXES):
        return True
    if path != "/_dash-update-component":
        return False
    output = str((flask.request.get_json(silent=True) or {}).get("output", ""))
    parts = output[2:-2].split("...") if output.startswith("..") else [output]  # Dash: ..a.prop...b.prop..
    ids = [part.rsplit(".", 1)[0] for part in parts if part]
    return bool(ids) and all(i.startswith(INGEST_CALLBACK_IDS) for i in ids)


def guard():
    """before_request: identify the user; refuse or redirect when there is none on a closed path."""
    path = flask.request.path
    header = flask.request.headers.get("Authorization", "")
    try:
        return _guard(path, header)
    except DatabaseUnavailable as exc:
        if _is_open(path):
            flask.g.user = None
            return None
        return json_error(503, "database_unavailable", "Cannot check who you are: the database is unreachable.",
                          {"reason": str(exc)}, headers={"Retry-After": "5"})


def _guard(path: str, header: str):
    user = None
    if header[:7].lower() == "bearer ":
        user = _user_from_bearer(header)
        if user is None and not _is_open(path):
            return json_error(401, "unauthorized", "The bearer token is invalid or revoked.",
                              headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    elif SESSION_USER in flask.session:
        user = _user_from_session()
        if user is None:
            flask.session.clear()
    flask.g.user = user
    if user is not None and user.role == Role.INGEST.value and not _ingest_may_use(path) and not _is_open(path):
        return json_error(403, "forbidden", "An ingest account writes through /api/v1/ingest and the /import page, "
                          "and reads nothing else.",
                          {"role": user.role})
    if user is not None or _is_open(path):
        return None
    if (path.startswith(XHR_PREFIXES) and path != "/api/docs") or flask.request.method != "GET":
        return json_error(401, "unauthorized", "Sign in or send a bearer token.",
                          headers={"WWW-Authenticate": "Bearer"})
    full = flask.request.full_path if flask.request.query_string else path
    return flask.redirect(flask.url_for("auth.login", next=full))
