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
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import flask
import orjson
from sqlalchemy import bindparam, select, update
from sqlalchemy import exc as sqlalchemy_exc
from werkzeug.security import check_password_hash, generate_password_hash

from data_access.models import ApiToken, Role, User

bp = flask.Blueprint("auth", __name__)

SESSION_USER = "uid"
SESSION_AUTH_HASH = "auth"
SESSION_FORM_TOKEN = "form_token"
TOKEN_PREFIX = "tb_"
TOKEN_TOUCH_SECONDS = 60
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")

# Paths anyone may request. Prefixes end with "/".
OPEN_PATHS = frozenset({"/login", "/logout", "/api/v1/health", "/favicon.ico", "/_favicon.ico"})
OPEN_PREFIXES = ("/assets/", "/_dash-component-suites/")
# Dash's own XHR endpoints: answered with 401 JSON rather than a redirect.
XHR_PREFIXES = ("/api/", "/_dash-", "/_reload-hash", "/health", "/metrics")

# A real hash to check against when the user does not exist, so a wrong username costs as long
# as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


@dataclass(frozen=True)
class CurrentUser:
    id: int
    username: str
    display_name: str
    role: str
    account_scope: tuple[str, ...]  # account names this user is limited to; empty = all

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value


def _current_user_from(user: User) -> CurrentUser:
    scope = tuple(s.strip() for s in (user.account_scope or "").split(",") if s.strip())
    role = user.role.value if isinstance(user.role, Role) else str(user.role)
    return CurrentUser(user.id, user.username, user.display_name, role, scope)


def current_user() -> CurrentUser | None:
    """The signed-in user of the current request, or None (also outside a request)."""
    if not flask.has_request_context():
        return None
    return flask.g.get("user")


# --------------------------------------------------------------------------- users and tokens


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def generate_password() -> str:
    """20 URL-safe characters (~120 bits)."""
    return secrets.token_urlsafe(15)


def _session_auth_hash(password_hash: str) -> str:
    """Ties a session to the password it was opened with: changing the password ends it."""
    key = flask.current_app.secret_key
    key_bytes = key.encode() if isinstance(key, str) else key
    return hmac.new(key_bytes, password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def create_user(session, username: str, role: str | Role, password: str | None = None,
                display_name: str | None = None, account_scope: str | None = None) -> tuple[User, str]:
    """Add a user; returns it with its password (generated when none is given)."""
    if not USERNAME_RE.match(username or ""):
        raise ValueError("username must be 1-64 letters, digits or _ . @ -")
    try:
        role_value = Role(role.value if isinstance(role, Role) else str(role).lower())
    except ValueError:
        raise ValueError(f"role must be one of {', '.join(r.value for r in Role)}, got {role!r}") from None
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    password = password or generate_password()
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                role=role_value, account_scope=account_scope, is_active=True)
    session.add(user)
    session.flush()
    return user, password


def set_password(session, username: str, password: str | None = None) -> str:
    """Replace a user's password (generated when none is given) and return it."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no user {username!r}")
    password = password or generate_password()
    user.password_hash = hash_password(password)
    session.flush()
    return password


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session, username: str, name: str) -> str:
    """Add an API token for ``username``; returns the plaintext, which is not stored anywhere."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no user {username!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_sha256=token_digest(token), revoked=False))
    session.flush()
    return token


def authenticate(session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None (in constant-ish time)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user if user.is_active else None


# --------------------------------------------------------------------------- JSON errors


def json_response(payload, status: int = 200, headers: dict | None = None) -> flask.Response:
    response = flask.Response(orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), status=status,
                              mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def json_error(status: int, code: str, message: str, details: dict | None = None,
               headers: dict | None = None) -> flask.Response:
    return json_response({"error": {"code": code, "message": message, "details": details or {}}}, status, headers)


def require_role(*roles: str | Role):
    """Decorator for API views: 401 without a user, 403 JSON unless the user has one of ``roles``."""
    allowed = {r.value if isinstance(r, Role) else str(r) for r in roles}

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                return json_error(401, "unauthorized", "Sign in or send a bearer token.")
            if user.role not in allowed:
                return json_error(403, "forbidden", "Your role may not use this endpoint.",
                                  {"required_roles": sorted(allowed), "role": user.role})
            return view(*args, **kwargs)

        return wrapper

    return decorate


# --------------------------------------------------------------------------- the guard


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


_USER_COLUMNS = (User.id, User.username, User.display_name, User.role, User.account_scope, User.is_active)

# Built once: constructing a statement costs ~4x executing it on SQLite, and these run on every request.
_TOKEN_LOOKUP = (select(*_USER_COLUMNS, ApiToken.id, ApiToken.revoked, ApiToken.last_used_at)
                 .join(User, User.id == ApiToken.user_id)
                 .where(ApiToken.token_sha256 == bindparam("digest")))
_SESSION_LOOKUP = select(*_USER_COLUMNS, User.password_hash).where(User.id == bindparam("uid"))
_TOKEN_TOUCH = update(ApiToken).where(ApiToken.id == bindparam("token_id")).values(last_used_at=bindparam("now"))


def _current_user_from_row(row) -> CurrentUser | None:
    uid, username, display_name, role, account_scope, is_active = row[:6]
    if not is_active:
        return None
    scope = tuple(s.strip() for s in (account_scope or "").split(",") if s.strip())
    return CurrentUser(uid, username, display_name, getattr(role, "value", str(role)), scope)


class PreparedLookup:
    """A one-parameter SELECT run on the pool's raw DB-API connection: the statement compiled once
    per dialect by SQLAlchemy, its rows converted by the columns' own result processors (dates
    from SQLite's text, enums). Sign-in checks run on every request, and SQLAlchemy's execution
    machinery cost ~10x the query itself there (a warm lite request: 0.26 of 0.65 ms CPU in-process)."""

    def __init__(self, statement, param: str) -> None:
        self.statement, self.param = statement, param
        self._compiled: dict[str, tuple] = {}

    def _for(self, dialect) -> tuple:
        key = dialect.name + ":" + dialect.driver
        prepared = self._compiled.get(key)
        if prepared is None:
            compiled = self.statement.compile(dialect=dialect)
            positional = bool(compiled.positiontup)
            processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                          for column in self.statement.selected_columns]
            prepared = self._compiled[key] = (compiled.string, positional, processors)
        return prepared

    def first(self, engine, value):
        """The row for ``value``, its values converted as SQLAlchemy would, or None."""
        raw = self.first_raw(engine, value)
        return None if raw is None else self.converted(engine, raw)

    def converted(self, engine, raw: tuple) -> tuple:
        processors = self._for(engine.dialect)[2]
        return tuple(process(v) if process is not None and v is not None else v for process, v in zip(processors, raw))

    def first_raw(self, engine, value):
        """The row for ``value`` as the DB-API driver returns it, or None."""
        sql, positional, _processors = self._for(engine.dialect)
        params = (value,) if positional else {self.param: value}
        dbapi_error = engine.dialect.loaded_dbapi.Error
        try:
            connection = engine.raw_connection()
        except dbapi_error as exc:  # wrapped as Engine.connect wraps it (OperationalError: unreachable)
            raise sqlalchemy_exc.DBAPIError.instance(None, None, exc, dbapi_error) from exc
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql, params)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except dbapi_error as exc:
            if engine.dialect.is_disconnect(exc, connection, None):
                connection.invalidate(exc)
            raise sqlalchemy_exc.DBAPIError.instance(sql, params, exc, dbapi_error) from exc
        finally:
            connection.close()  # back to the pool (rolled back there, as Connection.close does)
        return None if row is None else tuple(row)


_TOKEN_ROW = PreparedLookup(_TOKEN_LOOKUP, "digest")
_SESSION_ROW = PreparedLookup(_SESSION_LOOKUP, "uid")


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
    raw = _TOKEN_ROW.first_raw(engine, digest)
    if raw is None:
        return None
    known = _token_users.get(digest)
    if known is not None and known[0] == raw and time.monotonic() < known[2]:
        return known[1]
    row = _TOKEN_ROW.converted(engine, raw)
    token_id, revoked, last_used_at = row[6:9]
    if revoked:
        return None
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    age = None if last_used_at is None else (now - last_used_at).total_seconds()
    if age is None or age >= TOKEN_TOUCH_SECONDS:
        with engine.begin() as conn:
            conn.execute(_TOKEN_TOUCH, {"token_id": token_id, "now": now})
        age = 0.0  # the row read next carries the new time, so this entry is not used again
    user = _current_user_from_row(row)
    if user is not None:
        if len(_token_users) >= MAX_TOKEN_USERS:
            _token_users.clear()
        _token_users[digest] = (raw, user, time.monotonic() + TOKEN_TOUCH_SECONDS - age)
    return user


def _user_from_session() -> CurrentUser | None:
    uid = flask.session.get(SESSION_USER)
    if uid is None:
        return None
    return _verify(f"session:{uid}:{flask.session.get(SESSION_AUTH_HASH, '')}", lambda: _user_from_cookie(uid))


def _user_from_cookie(uid) -> CurrentUser | None:
    from app.extensions import state

    row = _SESSION_ROW.first(state().engine, uid)
    if row is None:
        return None
    password_hash = row[6]
    if not hmac.compare_digest(flask.session.get(SESSION_AUTH_HASH, ""), _session_auth_hash(password_hash)):
        return None
    return _current_user_from_row(row)


INGEST_PREFIX = "/api/v1/ingest/"


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
    if user is not None and user.role == Role.INGEST.value and not path.startswith(INGEST_PREFIX) and not _is_open(path):
        return json_error(403, "forbidden", "An ingest account writes through /api/v1/ingest and reads nothing else.",
                          {"role": user.role})
    if user is not None or _is_open(path):
        return None
    if (path.startswith(XHR_PREFIXES) and path != "/api/docs") or flask.request.method != "GET":
        return json_error(401, "unauthorized", "Sign in or send a bearer token.",
                          headers={"WWW-Authenticate": "Bearer"})
    full = flask.request.full_path if flask.request.query_string else path
    return flask.redirect(flask.url_for("auth.login", next=full))


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


def _render_login(error: str | None = None, status: int = 200, username: str = "", message: str | None = None):
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
        return _render_login(message=message)

    expected = flask.session.get(SESSION_FORM_TOKEN, "")
    submitted = flask.request.form.get("form_token", "")
    if not expected or not hmac.compare_digest(expected, submitted):
        flask.session.pop(SESSION_FORM_TOKEN, None)
        return _render_login("Your sign-in form expired. Please try again.", 400)
    username = flask.request.form.get("username", "").strip()
    password = flask.request.form.get("password", "")
    with state().session() as session:
        user = authenticate(session, username, password) if username and password else None
        if user is None:
            return _render_login("Wrong username or password, or the account is disabled.", 401, username=username)
        uid, auth_hash = user.id, _session_auth_hash(user.password_hash)
    flask.session.clear()  # a fresh session on sign-in (no fixation)
    flask.session.permanent = True
    flask.session[SESSION_USER] = uid
    flask.session[SESSION_AUTH_HASH] = auth_hash
    return flask.redirect(safe_next(flask.request.form.get("next")), code=303)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    flask.session.clear()
    return flask.redirect(flask.url_for("auth.login", signed_out=1), code=303)


def init_app(server: flask.Flask) -> None:
    server.register_blueprint(bp)
    server.before_request(guard)
