"""Who is signed in: `CurrentUser` (also at ``flask.g.user``) and `current_user()`."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import flask

from data_access.models import Role


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


def current_user_from_row(row) -> CurrentUser | None:
    """The user of a lookup row (id, username, display name, role, account scope, is_active...); None
    for a disabled account."""
    uid, username, display_name, role, account_scope, is_active = row[:6]
    if not is_active:
        return None
    scope = tuple(s.strip() for s in (account_scope or "").split(",") if s.strip())
    return CurrentUser(uid, username, display_name, getattr(role, "value", str(role)), scope)


def current_user() -> CurrentUser | None:
    """The signed-in user of the current request, or None (also outside a request)."""
    if not flask.has_request_context():
        return None
    return flask.g.get("user")
