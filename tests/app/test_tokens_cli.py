"""API tokens are listable and revocable from the CLI, and a revoked token stops working at the very
next request; client users get an account scope with `create-user --accounts` and `set-accounts`."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from data_access.db import make_engine, make_session_factory, session_scope
from data_access.models import Account, ApiToken, User

API = "/api/v1/dashboards/client?time_range=7d"


@pytest.fixture
def env(app, app_settings):
    """The CLI's environment: the `app` fixture's database (its tables and the admin and analyst users)."""
    return {"DATABASE_URL": app_settings.DATABASE_URL, "REDIS_URL": app_settings.REDIS_URL}


def run(env, *args):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def new_token(env, username: str, name: str) -> str:
    result = run(env, "create-token", username, "--name", name)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def token_ids(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(ApiToken.name, ApiToken.id)).all())
    engine.dispose()
    return rows


def scope_of(url: str, username: str) -> str | None:
    engine = make_engine(url)
    with engine.connect() as conn:
        scope = conn.execute(select(User.account_scope).where(User.username == username)).scalar_one()
    engine.dispose()
    return scope


def add_accounts(url: str, *names: str) -> None:
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        session.add_all([Account(name=n, broker="IBKR", net_contributions=1.0) for n in names])
    engine.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------- list-tokens


def test_list_tokens_shows_every_token_without_its_secret(env, app_settings, app):
    laptop = new_token(env, "admin", "laptop")
    ci = new_token(env, "analyst", "ci")
    assert app.server.test_client().get(API, headers=bearer(laptop)).status_code == 200  # sets its last use

    result = run(env, "list-tokens")
    assert result.exit_code == 0, result.output
    assert laptop not in result.output and ci not in result.output
    assert "tb_" not in result.output
    engine = make_engine(app_settings.DATABASE_URL)
    with engine.connect() as conn:
        for digest in conn.execute(select(ApiToken.token_sha256)).scalars():
            assert digest not in result.output
    engine.dispose()

    header, *lines = result.output.strip().splitlines()
    assert header.split() == ["ID", "USER", "NAME", "CREATED", "(UTC)", "LAST", "USED", "(UTC)", "REVOKED"]
    ids = token_ids(app_settings.DATABASE_URL)
    rows = {line.split()[0]: line for line in lines}
    assert set(rows) == {str(ids["laptop"]), str(ids["ci"])}
    laptop_row, ci_row = rows[str(ids["laptop"])].split(), rows[str(ids["ci"])].split()
    assert laptop_row[1:3] == ["admin", "laptop"] and laptop_row[-1] == "no"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", laptop_row[3])  # created
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", laptop_row[5])  # last used
    assert ci_row[1:3] == ["analyst", "ci"] and ci_row[-2:] == ["-", "no"]  # never used


def test_list_tokens_of_one_user_and_of_an_unknown_user(env):
    new_token(env, "admin", "laptop")
    new_token(env, "analyst", "ci")
    only = run(env, "list-tokens", "analyst")
    assert only.exit_code == 0 and " ci " in only.output and "laptop" not in only.output
    unknown = run(env, "list-tokens", "nobody")
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output
    assert run(env, "list-tokens", "admin").output.count("\n") == 2  # header + one


def test_list_tokens_says_when_there_are_none(env):
    result = run(env, "list-tokens")
    assert result.exit_code == 0 and "no tokens" in result.output


# --------------------------------------------------------------------------- revoke-token


def test_a_revoked_token_stops_working_at_the_next_request(env, app_settings, app):
    token = new_token(env, "admin", "laptop")
    other = new_token(env, "admin", "other")
    client = app.server.test_client()
    assert client.get(API, headers=bearer(token)).status_code == 200

    token_id = token_ids(app_settings.DATABASE_URL)["laptop"]
    result = run(env, "revoke-token", str(token_id))
    assert result.exit_code == 0 and f"revoked token {token_id} (laptop) of admin" in result.output

    refused = client.get(API, headers=bearer(token))  # the same app, no restart, right after
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthorized"
    assert client.get(API, headers=bearer(other)).status_code == 200  # only that token
    listed = run(env, "list-tokens").output.splitlines()
    assert next(line for line in listed if line.split()[0] == str(token_id)).split()[-1] == "yes"


def test_revoking_twice_is_fine_and_an_unknown_id_fails_clearly(env, app_settings):
    new_token(env, "admin", "laptop")
    token_id = token_ids(app_settings.DATABASE_URL)["laptop"]
    assert run(env, "revoke-token", str(token_id)).exit_code == 0
    again = run(env, "revoke-token", str(token_id))
    assert again.exit_code == 0 and "already revoked" in again.output
    unknown = run(env, "revoke-token", "9999")
    assert unknown.exit_code == 1 and "no token with id 9999" in unknown.output
    not_a_number = CliRunner().invoke(main, ["revoke-token", "laptop"], env=env)
    assert not_a_number.exit_code == 2


# --------------------------------------------------------------------------- account scopes


def test_create_user_with_accounts_stores_the_scope_and_warns_about_unknown_names(env, app_settings):
    add_accounts(app_settings.DATABASE_URL, "Acct A", "Acct B")
    result = run(env, "create-user", "carol", "--role", "client", "--accounts", " Acct A, Acct B ,Acct A")
    assert result.exit_code == 0, result.output
    assert "accounts Acct A,Acct B" in result.output and "warning" not in result.output
    assert scope_of(app_settings.DATABASE_URL, "carol") == "Acct A,Acct B"

    typo = run(env, "create-user", "dan", "--role", "client", "--accounts", "Acct A,Acct Z")
    assert typo.exit_code == 0  # a warning, not a failure
    assert "warning: no account named 'Acct Z'" in typo.stderr
    assert scope_of(app_settings.DATABASE_URL, "dan") == "Acct A,Acct Z"

    everything = run(env, "create-user", "erin", "--role", "client")
    assert everything.exit_code == 0 and "every account" in everything.output
    assert scope_of(app_settings.DATABASE_URL, "erin") is None


def test_set_accounts_changes_and_clears_a_users_scope(env, app_settings):
    add_accounts(app_settings.DATABASE_URL, "Acct A", "Acct B")
    run(env, "create-user", "carol", "--role", "client", "--accounts", "Acct A")
    result = run(env, "set-accounts", "carol", "Acct B,Nope")
    assert result.exit_code == 0 and "carol (role client) now sees accounts Acct B,Nope" in result.output
    assert "warning: no account named 'Nope'" in result.stderr
    assert scope_of(app_settings.DATABASE_URL, "carol") == "Acct B,Nope"

    cleared = run(env, "set-accounts", "carol", "")
    assert cleared.exit_code == 0 and "every account" in cleared.output
    assert scope_of(app_settings.DATABASE_URL, "carol") is None

    analyst = run(env, "set-accounts", "analyst", "Acct A")
    assert analyst.exit_code == 0 and "applies to the client role only" in analyst.stderr
    unknown = run(env, "set-accounts", "nobody", "Acct A")
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output


def test_reset_password_with_accounts_replaces_the_scope(env, app_settings):
    add_accounts(app_settings.DATABASE_URL, "Acct A", "Acct B")
    run(env, "create-user", "carol", "--role", "client", "--accounts", "Acct A")
    run(env, "create-user", "carol", "--role", "client", "--reset-password")  # no --accounts: kept
    assert scope_of(app_settings.DATABASE_URL, "carol") == "Acct A"
    run(env, "create-user", "carol", "--role", "client", "--reset-password", "--accounts", "Acct B")
    assert scope_of(app_settings.DATABASE_URL, "carol") == "Acct B"


def test_the_scope_reaches_the_signed_in_user_at_the_next_request(env, app, app_settings):
    """``set-accounts`` needs no sign-out: the user is read per request (g.user.account_scope)."""
    import flask

    add_accounts(app_settings.DATABASE_URL, "Acct A", "Acct B")
    run(env, "create-user", "carol", "--role", "client", "--accounts", "Acct A")
    token = new_token(env, "carol", "carol")
    seen = []

    @app.server.route("/api/v1/_test_scope")
    def scope_probe():
        seen.append(flask.g.user.account_scope)
        return {}

    client = app.server.test_client()
    assert client.get("/api/v1/_test_scope", headers=bearer(token)).status_code == 200
    run(env, "set-accounts", "carol", "Acct A, Acct B")
    assert client.get("/api/v1/_test_scope", headers=bearer(token)).status_code == 200
    assert seen == [("Acct A",), ("Acct A", "Acct B")]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_token_signs_in_its_user_records_its_use_and_stops_with_revocation_or_deactivation(
        database, app_settings, request, users):
    """The bearer check runs a prepared statement on the raw driver connection (it is on every API
    call): the same user, role and last-use bookkeeping on both databases."""
    import dataclasses

    from app.auth import create_token, create_user
    from tests.conftest import build_app

    url = app_settings.DATABASE_URL if database == "sqlite" else request.getfixturevalue("postgres_url")
    dash_app = build_app(dataclasses.replace(app_settings, DATABASE_URL=url))
    state = dash_app.server.extensions["tradeboard"]
    with state.session() as session:
        token = create_token(session, "analyst", "notebook")
    client = dash_app.server.test_client()
    assert client.get(API, headers=bearer(token)).status_code == 200
    with state.session() as session:
        create_user(session, "dev", "developer", password="developer-password-123")
        developer = create_token(session, "dev", "ci")
    assert client.get(API, headers=bearer(developer)).status_code == 403  # its role came through: not this dashboard
    with state.session() as session:
        assert session.scalars(select(ApiToken.last_used_at).where(ApiToken.name == "notebook")).one() is not None
        session.query(ApiToken).filter_by(name="notebook").update({"revoked": True})
    assert client.get(API, headers=bearer(token)).status_code == 401
    with state.session() as session:
        fresh = create_token(session, "analyst", "second")
    assert client.get(API, headers=bearer(fresh)).status_code == 200
    with state.session() as session:
        session.query(User).filter_by(username="analyst").update({"is_active": False})
    assert client.get(API, headers=bearer(fresh)).status_code == 401
    state.engine.dispose()
