"""Users and API tokens in the database: create, set a password, issue a token, check a password."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from data_access.models import ApiToken, Role, User

TOKEN_PREFIX = "tb_"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


# A real hash to check against when the user does not exist, so a wrong username costs as long
# as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def generate_password() -> str:
    """20 URL-safe characters (~120 bits)."""
    return secrets.token_urlsafe(15)


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
