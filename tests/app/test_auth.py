"""Signing in and out, sessions, and what the request guard lets through."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth import create_user, safe_next, set_password
from data_access.models import User


def _state(app):
    return app.server.extensions["tradeboard"]


def test_login_with_right_password_redirects_to_next_and_opens_pages(app, users, login):
    client = app.server.test_client()
    response = login(client, "analyst", users["analyst"], next_path="/client?time_range=7d")
    assert response.status_code == 303
    assert response.headers["Location"] == "/client?time_range=7d"
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200


def test_login_with_wrong_password_is_refused_and_keeps_no_session(app, login):
    client = app.server.test_client()
    response = login(client, "analyst", "not-the-password")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_with_unknown_username_is_refused(app, login):
    client = app.server.test_client()
    assert login(client, "nobody", "whatever-password").status_code == 401


def test_inactive_user_cannot_log_in(app, users, login):
    with _state(app).session() as session:
        session.scalar(select(User).where(User.username == "analyst")).is_active = False
    client = app.server.test_client()
    assert login(client, "analyst", users["analyst"]).status_code == 401


def test_deactivating_a_user_ends_their_open_session(app, users, login):
    client = app.server.test_client()
    login(client, "analyst", users["analyst"])
    assert client.get("/api/v1/nothing-here").status_code == 404  # signed in: past the guard
    with _state(app).session() as session:
        session.scalar(select(User).where(User.username == "analyst")).is_active = False
    assert client.get("/api/v1/nothing-here").status_code == 401


def test_changing_the_password_ends_sessions_opened_with_the_old_one(app, users, login):
    client = app.server.test_client()
    login(client, "analyst", users["analyst"])
    assert client.get("/").status_code == 200
    with _state(app).session() as session:
        set_password(session, "analyst", "a-brand-new-password")
    assert client.get("/").status_code == 302


def test_login_post_without_the_form_token_is_refused(app, users):
    client = app.server.test_client()
    response = client.post("/login", data={"username": "admin", "password": users["admin"]})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_login_page_is_only_a_form_and_get_does_not_sign_in(app, users):
    client = app.server.test_client()
    response = client.get(f"/login?username=admin&password={users['admin']}")
    assert response.status_code == 200
    assert '<form method="post"' in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target", [
    "//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil.example",
    "/ok\r\nLocation: https://evil.example", "",
])
def test_next_never_leaves_the_site(app, users, login, target):
    client = app.server.test_client()
    response = login(client, "admin", users["admin"], next_path=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_safe_next_keeps_relative_paths_with_queries():
    assert safe_next("/client?time_range=30d") == "/client?time_range=30d"
    assert safe_next("/") == "/"
    assert safe_next(None) == "/"


def test_page_request_without_a_session_redirects_to_login_with_next(app):
    response = app.server.test_client().get("/client?time_range=7d")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/client?time_range%3D7d"


@pytest.mark.parametrize("method,path", [
    ("GET", "/_dash-layout"), ("GET", "/_dash-dependencies"), ("POST", "/_dash-update-component"),
    ("GET", "/api/v1/anything"),
])
def test_dash_and_api_requests_without_a_session_get_401_json(app, method, path):
    response = app.server.test_client().open(path, method=method, json={} if method == "POST" else None)
    assert response.status_code == 401
    assert response.get_json() == {"error": {"code": "unauthorized", "message": "Sign in or send a bearer token.",
                                             "details": {}}}


@pytest.mark.parametrize("path", ["/login", "/api/v1/health", "/assets/tradeboard.css", "/_favicon.ico"])
def test_open_paths_need_no_login(app, path):
    assert app.server.test_client().get(path).status_code == 200


def test_dash_component_suites_need_no_login(app):
    client = app.server.test_client()
    assert client.get("/login").status_code == 200
    # Any script URL of the page: the guard must let the login-less browser fetch it.
    from dash import __version__

    response = client.get(f"/_dash-component-suites/dash/deps/polyfill@7.v{__version__.replace('.', '_')}m1.12.1.min.js")
    assert response.status_code != 302 and response.status_code != 401


def test_logout_ends_the_session(client):
    assert client.get("/").status_code == 200
    response = client.get("/logout")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login")
    assert client.get("/").status_code == 302


def test_session_cookie_is_httponly_and_samesite_lax(app, users):
    client = app.server.test_client()
    from tests.conftest import form_token

    token = form_token(client)
    response = client.post("/login", data={"username": "admin", "password": users["admin"], "form_token": token})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("tradeboard_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_create_user_generates_a_strong_password_and_hashes_it(app):
    with _state(app).session() as session:
        user, password = create_user(session, "carol", "client", display_name="Carol")
        assert len(password) >= 16
        assert password not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))
        with pytest.raises(ValueError, match="already exists"):
            create_user(session, "carol", "client")
        with pytest.raises(ValueError, match="role must be one of"):
            create_user(session, "dave", "superuser")


def test_current_user_describes_the_signed_in_user(client):
    import flask

    from app.auth import current_user

    with client.application.test_request_context("/"):
        assert current_user() is None
    client.get("/")
    with client:
        client.get("/api/v1/missing")
        user = flask.g.user
    assert (user.username, user.display_name, user.role, user.account_scope) == ("admin", "Ada Admin", "admin", ())
