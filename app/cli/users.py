"""Users and API tokens: create-user, set-accounts, create-token, list-tokens, revoke-token."""

from __future__ import annotations

import click

from data_access.models import Role

from app.cli.common import database_session, echo, load_settings

commands = click.Group()


def _parse_accounts(value: str | None) -> str | None:
    """``"A, B,,A"`` -> ``"A,B"`` (stripped, de-duplicated, in the order given); blank -> None (every account)."""
    if value is None:
        return None
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    return ",".join(names) or None


def _warn_unknown_accounts(session, scope: str | None, role: str) -> None:
    """Warn (never fail) about names that match no account, and about a scope on a role it does not limit."""
    from sqlalchemy import select

    from data_access.models import Account

    if not scope:
        return
    names = scope.split(",")
    known = set(session.scalars(select(Account.name).where(Account.name.in_(names))))
    unknown = [n for n in names if n not in known]
    if unknown:
        echo(f"warning: no account named {', '.join(repr(n) for n in unknown)}: they match nothing "
             "(the user sees only the accounts that exist)", err=True)
    if role != "client":
        echo(f"note: the account scope applies to the client role only; a {role} sees every account", err=True)


def _describe_scope(scope: str | None) -> str:
    return f"accounts {scope}" if scope else "every account"


@commands.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]),
              help="ingest: a service account that writes through /api/v1/ingest with a token and reads nothing.")
@click.option("--password", default=None, help="The password (default: a generated one, printed).")
@click.option("--display-name", default=None, help="Name shown in the navbar (default: the username).")
@click.option("--accounts", default=None, metavar='"A,B"',
              help="Limit a client to these accounts (comma-separated names; default: every account).")
@click.option("--reset-password", is_flag=True, help="The user exists: give it a new password (and this role).")
def create_user_command(username: str, role: str, password: str | None, display_name: str | None,
                        accounts: str | None, reset_password: bool) -> None:
    """Add a user, or with --reset-password give an existing one a new password."""
    from sqlalchemy import select

    from app.auth import create_user, set_password
    from data_access.models import Role, User

    with database_session(load_settings().DATABASE_URL) as session:
        existing = session.scalar(select(User).where(User.username == username))
        if existing is not None:
            if not reset_password:
                raise click.ClickException(
                    f"user {username!r} already exists (use --reset-password to give it a new password)")
            new_password = set_password(session, username, password)
            existing.role = Role(role)
            existing.is_active = True
            if display_name:
                existing.display_name = display_name
            if accounts is not None:
                existing.account_scope = _parse_accounts(accounts)
                _warn_unknown_accounts(session, existing.account_scope, role)
            echo(f"password reset for {username} (role {role})")
        else:
            scope = _parse_accounts(accounts)
            try:
                _user, new_password = create_user(session, username, role, password=password,
                                                  display_name=display_name, account_scope=scope)
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            _warn_unknown_accounts(session, scope, role)
            echo(f"created user {username} (role {role}, {_describe_scope(scope)})")
    if password is None:
        echo(f"password: {new_password}")


@commands.command("set-accounts")
@click.argument("username")
@click.argument("accounts")
def set_accounts_command(username: str, accounts: str) -> None:
    """Limit USERNAME (a client) to ACCOUNTS, comma-separated account names; "" gives every account.

    Takes effect at the user's next request. Names that match no account are kept, with a warning.
    """
    from sqlalchemy import select

    from data_access.models import Role, User

    with database_session(load_settings().DATABASE_URL) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        user.account_scope = _parse_accounts(accounts)
        role = user.role.value if isinstance(user.role, Role) else str(user.role)
        _warn_unknown_accounts(session, user.account_scope, role)
        echo(f"{username} (role {role}) now sees {_describe_scope(user.account_scope)}")


@commands.command("create-token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def create_token_command(username: str, name: str) -> None:
    """Add an API token for USERNAME and print it (shown once; only its hash is stored)."""
    from app.auth import create_token

    with database_session(load_settings().DATABASE_URL) as session:
        try:
            token = create_token(session, username, name)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    echo(f"token for {username} ({name}), shown once:", err=True)
    echo(token)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


@commands.command("list-tokens")
@click.argument("username", required=False)
def list_tokens_command(username: str | None) -> None:
    """List API tokens (all, or USERNAME's): id, user, name, created, last used, revoked. Never the secret."""
    from sqlalchemy import select

    from data_access.models import ApiToken, User

    with database_session(load_settings().DATABASE_URL) as session:
        query = (select(ApiToken.id, User.username, ApiToken.name, ApiToken.created_at, ApiToken.last_used_at,
                        ApiToken.revoked)
                 .join(User, User.id == ApiToken.user_id).order_by(ApiToken.id))
        if username is not None:
            if session.scalar(select(User.id).where(User.username == username)) is None:
                raise click.ClickException(f"no user {username!r}")
            query = query.where(User.username == username)
        rows = session.execute(query).all()
    if not rows:
        echo(f"no tokens{f' for {username}' if username else ''}")
        return
    table = [("ID", "USER", "NAME", "CREATED (UTC)", "LAST USED (UTC)", "REVOKED")]
    table += [(str(i), user, name, _when(created), _when(used), "yes" if revoked else "no")
              for i, user, name, created, used, revoked in rows]
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    for row in table:
        echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@commands.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token_command(token_id: int) -> None:
    """Revoke the API token TOKEN_ID (from list-tokens); it stops working at the next request."""
    from data_access.models import ApiToken

    with database_session(load_settings().DATABASE_URL) as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise click.ClickException(f"no token with id {token_id} (see `tradeboard list-tokens`)")
        already = bool(token.revoked)
        token.revoked = True
        label = f"token {token_id} ({token.name}) of {token.user.username}"
    echo(f"{label} was already revoked" if already else f"revoked {label}")
