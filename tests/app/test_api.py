"""The JSON API's access rules: bearer tokens, sessions, roles, error shape."""

from __future__ import annotations

import datetime as dt

import flask
import pytest
from sqlalchemy import select

from app.auth import create_token, json_response, require_role, token_digest
from data_access.models import ApiToken, User
from tests.conftest import build_app


def _state(app):
    return app.server.extensions["tradeboard"]


@pytest.fixture
def role_app(app_settings):
    """An app with an extra endpoint only admins may call and one that names the caller (added before the first request)."""
    dash_app = build_app(app_settings)

    @dash_app.server.get("/api/v1/test-admin-only")
    @require_role("admin")
    def admin_only():
        return json_response({"ok": True, "user": flask.g.user.username})

    @dash_app.server.get("/api/v1/test-whoami")
    @require_role("admin", "analyst", "client", "developer")
    def whoami():
        return json_response(flask.g.user.to_dict())

    return dash_app


def _token(app, username="admin", name="test"):
    with _state(app).session() as session:
        return create_token(session, username, name)


def test_api_without_credentials_is_401_with_the_error_shape(app):
    response = app.server.test_client().get("/api/v1/test")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == "unauthorized"
    assert set(body["error"]) == {"code", "message", "details"}


def test_api_with_a_bearer_token_is_allowed(role_app):
    token = _token(role_app)
    response = role_app.server.test_client().get("/api/v1/test-admin-only",
                                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "user": "admin"}


def test_api_with_a_session_is_allowed(role_app, users, login):
    client = role_app.server.test_client()
    login(client, "admin", users["admin"])
    assert client.get("/api/v1/test-admin-only").status_code == 200


def test_a_token_is_stored_only_as_its_sha256(app):
    token = _token(app)
    with _state(app).session() as session:
        stored = session.scalars(select(ApiToken.token_sha256)).all()
    assert stored == [token_digest(token)]
    assert token not in stored


def test_revoked_token_is_401_at_its_next_request(role_app):
    token = _token(role_app)
    client = role_app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/test-admin-only", headers=headers).status_code == 200
    with _state(role_app).session() as session:
        session.scalar(select(ApiToken)).revoked = True
    response = client.get("/api/v1/test-admin-only", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_a_tokens_user_is_read_anew_at_each_request(role_app):
    """A token used a moment ago still answers as its user is now: role and account scope changed
    behind the app's back (another process, a plain SQL update) count at the next request."""
    token = _token(role_app, username="analyst")
    client = role_app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/test-admin-only", headers=headers).status_code == 403
    assert client.get("/api/v1/test-whoami", headers=headers).get_json()["account_scope"] == []
    with _state(role_app).session() as session:
        analyst = session.scalar(select(User).where(User.username == "analyst"))
        analyst.role, analyst.account_scope = "admin", "Alpha Fund"
    assert client.get("/api/v1/test-admin-only", headers=headers).get_json() == {"ok": True, "user": "analyst"}
    assert client.get("/api/v1/test-whoami", headers=headers).get_json()["account_scope"] == ["Alpha Fund"]


def test_unknown_token_is_401_even_with_a_valid_session(role_app, users, login):
    client = role_app.server.test_client()
    login(client, "admin", users["admin"])
    response = client.get("/api/v1/test-admin-only", headers={"Authorization": "Bearer tb_not-a-real-token"})
    assert response.status_code == 401


def test_token_of_an_inactive_user_is_401(role_app):
    token = _token(role_app)
    assert role_app.server.test_client().get("/api/v1/test-admin-only",
                                             headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with _state(role_app).session() as session:
        session.scalar(select(User).where(User.username == "admin")).is_active = False
    response = role_app.server.test_client().get("/api/v1/test-admin-only",
                                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_token_last_used_is_written_at_most_once_a_minute(role_app):
    token = _token(role_app)
    client = role_app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def last_used():
        with _state(role_app).session() as session:
            return session.scalar(select(ApiToken.last_used_at))

    client.get("/api/v1/test-admin-only", headers=headers)
    first = last_used()
    assert first is not None
    client.get("/api/v1/test-admin-only", headers=headers)
    assert last_used() == first  # within the minute: not rewritten

    with _state(role_app).session() as session:
        session.scalar(select(ApiToken)).last_used_at = first - dt.timedelta(seconds=61)
    client.get("/api/v1/test-admin-only", headers=headers)
    assert last_used() > first - dt.timedelta(seconds=61)


def test_require_role_answers_403_json_for_other_roles(role_app):
    token = _token(role_app, username="analyst")
    response = role_app.server.test_client().get("/api/v1/test-admin-only",
                                                 headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["code"] == "forbidden"
    assert error["details"] == {"required_roles": ["admin"], "role": "analyst"}


def test_unknown_api_path_is_404_json_not_the_dash_page(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_bearer_token_does_not_open_dash_pages_for_anyone_else(app):
    response = app.server.test_client().get("/", headers={"Authorization": "Bearer tb_wrong"})
    assert response.status_code == 401
