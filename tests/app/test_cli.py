"""The tradeboard CLI's user and token commands (click's CliRunner against a test database)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from data_access.db import Base, make_engine
from data_access.models import ApiToken, User


@pytest.fixture
def db_env(sqlite_url, redis_url):
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return {"DATABASE_URL": sqlite_url, "REDIS_URL": redis_url}


def _run(env, *args):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result


def _users(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(User.username, User.role, User.display_name)).all()
    engine.dispose()
    return rows


def test_create_user_prints_a_generated_password_that_signs_in(db_env, app_settings, login):
    result = _run(db_env, "create-user", "erin", "--role", "analyst", "--display-name", "Erin E")
    assert result.exit_code == 0, result.output
    password = re.search(r"^password: (\S+)$", result.output, re.M).group(1)
    assert len(password) >= 16
    assert [(u, r.value, d) for u, r, d in _users(db_env["DATABASE_URL"])] == [("erin", "analyst", "Erin E")]

    from app import create_app

    client = create_app(app_settings).server.test_client()
    assert login(client, "erin", password).status_code == 303


def test_create_user_with_a_given_password_does_not_print_it(db_env):
    result = _run(db_env, "create-user", "frank", "--role", "client", "--password", "frank-secret-pass")
    assert result.exit_code == 0
    assert "frank-secret-pass" not in result.output


def test_create_user_refuses_an_existing_user_without_reset_password(db_env):
    _run(db_env, "create-user", "gina", "--role", "client")
    result = _run(db_env, "create-user", "gina", "--role", "client")
    assert result.exit_code == 1
    assert "already exists" in result.output and "--reset-password" in result.output


def test_reset_password_gives_a_new_password(db_env, app_settings, login):
    first = _run(db_env, "create-user", "hal", "--role", "developer").output
    old = re.search(r"^password: (\S+)$", first, re.M).group(1)
    result = _run(db_env, "create-user", "hal", "--role", "developer", "--reset-password")
    assert result.exit_code == 0
    new = re.search(r"^password: (\S+)$", result.output, re.M).group(1)
    assert new != old

    from app import create_app

    client = create_app(app_settings).server.test_client()
    assert login(client, "hal", old).status_code == 401
    assert login(client, "hal", new).status_code == 303


def test_create_user_rejects_an_unknown_role(db_env):
    result = CliRunner().invoke(main, ["create-user", "ivy", "--role", "boss"], env=db_env)
    assert result.exit_code == 2
    assert "boss" in result.output


def test_create_token_prints_a_token_that_authenticates(db_env, app_settings):
    _run(db_env, "create-user", "jack", "--role", "admin")
    result = CliRunner().invoke(main, ["create-token", "jack", "--name", "laptop"], env=db_env)
    assert result.exit_code == 0
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("tb_") and len(token) > 40

    engine = make_engine(db_env["DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(select(ApiToken.name)).scalars().all() == ["laptop"]
    engine.dispose()

    from app import create_app

    client = create_app(app_settings).server.test_client()
    response = client.get("/api/v1/nothing", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated: past the guard, to the API's 404


def test_create_token_for_an_unknown_user_fails(db_env):
    result = _run(db_env, "create-token", "nobody")
    assert result.exit_code == 1
    assert "no user 'nobody'" in result.output
