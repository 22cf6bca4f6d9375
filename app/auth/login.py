"""The login and logout pages: a plain Flask form (POST only, a per-session form token), a fresh
session on sign-in, relative ``next`` targets only (no open redirect)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

import flask

from app.auth.guard import SESSION_AUTH_HASH, SESSION_USER, session_auth_hash
from app.auth.identity import current_user
from app.auth.users import authenticate

bp = flask.Blueprint("auth", __name__)

SESSION_FORM_TOKEN = "form_token"


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else "/". Refuses //host, /\\host, schemes, control chars."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


# --------------------------------------------------------------------------- login and logout pages

LOGIN_PAGE = """<!doctype html>
<html lang="en" data-bs-theme="light">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · tradeboard</title>
<script>{{ theme_script|safe }}</script>
<link rel="stylesheet" href="{{ css }}">
<link rel="stylesheet" href="{{ app_css }}">
</head>
<body class="tb-login-body">
<main class="tb-login card shadow-sm">
  <div class="card-body p-4">
    <h1 class="h3 mb-1 tb-brand-text">tradeboard</h1>
    <p class="text-body-secondary mb-4">{{ fund_name }}</p>
    {% if error %}<div class="alert alert-danger py-2" role="alert">{{ error }}</div>{% endif %}
    {% if message %}<div class="alert alert-info py-2" role="status">{{ message }}</div>{% endif %}
    <form method="post" action="{{ action }}" autocomplete="on">
      <input type="hidden" name="form_token" value="{{ form_token }}">
      <input type="hidden" name="next" value="{{ next }}">
      <div class="mb-3">
        <label for="username" class="form-label">Username</label>
        <input id="username" name="username" class="form-control" value="{{ username }}"
               autocomplete="username" autocapitalize="none" required autofocus>
      </div>
      <div class="mb-4">
        <label for="password" class="form-label">Password</label>
        <input id="password" name="password" type="password" class="form-control"
               autocomplete="current-password" required>
      </div>
      <button id="sign-in" type="submit" class="btn btn-primary w-100">Sign in</button>
    </form>
  </div>
</main>
</body>
</html>
"""

# Applies the theme remembered by the Dash shell (dcc.Store "shell-theme" in localStorage) before paint.
THEME_SCRIPT = (
    "try{var t=JSON.parse(localStorage.getItem('shell-theme'));"
    "if(t!=='dark'&&t!=='light'){t=window.matchMedia&&matchMedia('(prefers-color-scheme: dark)').matches?'dark':'light'}"
    "document.documentElement.setAttribute('data-bs-theme',t)}catch(e){}"
)


def render_login(error: str | None = None, status: int = 200, username: str = "", message: str | None = None):
    from app.extensions import state

    token = flask.session.get(SESSION_FORM_TOKEN)
    if not token:
        token = secrets.token_urlsafe(24)
        flask.session[SESSION_FORM_TOKEN] = token
    html = flask.render_template_string(
        LOGIN_PAGE,
        css=flask.current_app.config["TB_BOOTSTRAP_CSS_URL"],
        app_css=flask.current_app.config["TB_APP_CSS_URL"],
        theme_script=THEME_SCRIPT,
        fund_name=state().settings.FUND_NAME,
        error=error,
        message=message,
        form_token=token,
        next=safe_next(flask.request.values.get("next")),
        action=flask.url_for("auth.login"),
        username=username,
    )
    response = flask.make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    from app.extensions import state

    if flask.request.method == "GET":
        if current_user() is not None:
            return flask.redirect(safe_next(flask.request.args.get("next")))
        message = "You have been signed out." if flask.request.args.get("signed_out") else None
        return render_login(message=message)

    expected = flask.session.get(SESSION_FORM_TOKEN, "")
    submitted = flask.request.form.get("form_token", "")
    if not expected or not hmac.compare_digest(expected, submitted):
        flask.session.pop(SESSION_FORM_TOKEN, None)
        return render_login("Your sign-in form expired. Please try again.", 400)
    username = flask.request.form.get("username", "").strip()
    password = flask.request.form.get("password", "")
    with state().session() as session:
        user = authenticate(session, username, password) if username and password else None
        if user is None:
            return render_login("Wrong username or password, or the account is disabled.", 401, username=username)
        uid, auth_hash = user.id, session_auth_hash(user.password_hash)
        role = getattr(user.role, "value", user.role)
    flask.session.clear()  # a fresh session on sign-in (no fixation)
    flask.session.permanent = True
    flask.session[SESSION_USER] = uid
    flask.session[SESSION_AUTH_HASH] = auth_hash
    target = safe_next(flask.request.form.get("next"))
    if role == "ingest" and target == "/":  # the one page an ingest account may use
        target = "/import"
    return flask.redirect(target, code=303)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    flask.session.clear()
    return flask.redirect(flask.url_for("auth.login", signed_out=1), code=303)
