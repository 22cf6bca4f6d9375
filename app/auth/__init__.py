"""Who is asking: the login page, session cookies, bearer tokens and the request guard.

- Passwords: werkzeug's `generate_password_hash` (scrypt by default).
- Browsers sign in at `/login` (a plain Flask page, POST only, with a per-session form token) and get
  the Flask session cookie (HttpOnly, SameSite=Lax). A password change invalidates old sessions.
- Programs send ``Authorization: Bearer <token>``; only the token's SHA-256 is stored and
  `last_used_at` is written at most once a minute.
- `guard` runs before every request: everything but the open paths needs a user. Unauthenticated
  API and Dash XHR requests get 401 JSON; unauthenticated page requests are sent to
  ``/login?next=<path>`` (relative paths only: no open redirect).

`current_user()` returns a `CurrentUser` (also at ``flask.g.user``) inside any request, including
Dash callbacks; `require_role(*roles)` wraps API views.

Where things are: `identity` (CurrentUser, current_user), `users` (users and tokens in the database),
`responses` (JSON answers, require_role), `lookups` (the prepared per-request sign-in queries),
`guard` (the before_request guard) and `login` (the login and logout pages).
"""

from __future__ import annotations

import flask

from app.auth.guard import (
    AUTH_FALLBACK_SECONDS,
    INGEST_PREFIX,
    OPEN_PATHS,
    OPEN_PREFIXES,
    SESSION_AUTH_HASH,
    SESSION_USER,
    TOKEN_TOUCH_SECONDS,
    XHR_PREFIXES,
    DatabaseUnavailable,
    guard,
)
from app.auth.identity import CurrentUser, current_user
from app.auth.login import SESSION_FORM_TOKEN, THEME_SCRIPT, bp, render_login, safe_next
from app.auth.responses import json_error, json_response, require_role
from app.auth.users import (
    TOKEN_PREFIX,
    USERNAME_RE,
    authenticate,
    create_token,
    create_user,
    generate_password,
    hash_password,
    set_password,
    token_digest,
)

__all__ = [
    "AUTH_FALLBACK_SECONDS", "INGEST_PREFIX", "OPEN_PATHS", "OPEN_PREFIXES", "SESSION_AUTH_HASH", "SESSION_FORM_TOKEN",
    "SESSION_USER", "THEME_SCRIPT", "TOKEN_PREFIX", "TOKEN_TOUCH_SECONDS", "USERNAME_RE", "XHR_PREFIXES",
    "CurrentUser", "DatabaseUnavailable", "authenticate", "bp", "create_token", "create_user", "current_user",
    "generate_password", "guard", "hash_password", "init_app", "json_error", "json_response", "render_login",
    "require_role", "safe_next", "set_password", "token_digest",
]


def init_app(server: flask.Flask) -> None:
    server.register_blueprint(bp)
    server.before_request(guard)
