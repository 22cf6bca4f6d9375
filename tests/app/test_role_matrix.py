"""Role x route -> status, for every API route (the /api/v1 routes, the compatibility routes,
/metrics, the API document and page), through the Flask test client with one user per role and no
user at all. A developer owns one strategy: its signal-sender is theirs (200), another's is not
(403). And a token, once revoked, stops working at the next request."""

from __future__ import annotations

import pytest

from app.auth import create_token
from app.openapi import document
from data_access.models import ApiToken
from tests.app.test_openapi import Spec, add_user, demo_facts, give_strategy_to
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures

ROLES = ("admin", "analyst", "client", "developer", "ingest", "anonymous")
A, AN, C, D, I, N = ROLES  # column order of the matrix below

EVERYONE = {A, AN, C, D}
CLIENT = {A, AN, C}
SIGNALS = {A, AN, D}
PAPER = {A, AN}
ADMIN = {A}
WRITERS = {A, I}  # the ingest role writes the book and reads nothing else

# (method, path, body, roles that may, the status they get). Others: 403; anonymous: 401 (unless listed).
# Requests are chosen to be cheap and to get past the role check: an invalid body is a 400 only
# for a role that may use the route, an unknown task a 404.
MATRIX = [
    ("get", "/api/v1/health", None, EVERYONE | {I, N}, 200),
    ("get", "/api/v1/openapi.json", None, EVERYONE, 200),
    ("get", "/api/docs", None, EVERYONE, 200),
    ("get", "/api/v1/dashboards/client", None, CLIENT, 200),
    ("get", "/api/v1/dashboards/signal-sender?strategy_name={own}", None, SIGNALS, 200),
    ("get", "/api/v1/dashboards/signal-sender?strategy_name={other}", None, PAPER, 200),  # a developer: 403
    ("get", "/api/v1/dashboards/signal-sender/signals?strategy_name={own}&end=5", None, SIGNALS, 200),
    ("get", "/api/v1/dashboards/signal-sender/signals?strategy_name={other}&end=5", None, PAPER, 200),
    ("get", "/api/v1/dashboards/paper-trading?limit=5", None, PAPER, 200),
    ("get", "/api/v1/dashboards/paper-trading/lite", None, PAPER, 200),
    ("get", "/api/v1/dashboards/strategy-performance", None, SIGNALS, 200),
    ("post", "/api/v1/dashboards/refresh?async=true", None, ADMIN, 202),
    ("post", "/api/v1/cache/clear?pattern=no-such-section:*", None, ADMIN, 200),
    ("post", "/api/v1/backtests", {"strategy": "nope", "symbol": "SPY"}, SIGNALS, 400),
    ("get", "/api/v1/backtests?limit=2", None, SIGNALS, 200),
    ("get", "/api/v1/backtests/{run}", None, SIGNALS, 200),
    ("get", "/api/v1/tasks/no-such-task", None, SIGNALS, 404),
    ("delete", "/api/v1/tasks/no-such-task", None, SIGNALS, 404),
    ("get", "/api/v1/playback/runs/{run}", None, SIGNALS, 200),
    ("get", "/api/v1/playback/runs/{run}/chunk?count=10", None, SIGNALS, 200),
    ("post", "/api/v1/playback/live", [1], SIGNALS, 400),
    ("get", "/api/v1/playback/live/no-such-run", None, SIGNALS, 404),
    ("get", "/metrics", None, ADMIN, 200),
    # ingest: an empty batch is cheap and gets past every check (a developer: signals and executions only)
    *[("post", f"/api/v1/ingest/{entity}", [], WRITERS | ({D} if entity in ("signals", "executions") else set()), 200)
      for entity in ("accounts", "account-snapshots", "strategies", "signals", "executions", "paper-accounts",
                     "paper-trades", "paper-signals", "bars")],
    # the compatibility routes (PUBLIC_ROUTES empty: every one needs a user)
    ("get", "/api/dashboards/client", None, CLIENT, 200),
    ("get", "/api/dashboards/signal-sender?strategy_name={own}", None, SIGNALS, 200),
    ("get", "/api/dashboards/signal-sender?strategy_name={other}", None, PAPER, 200),
    ("post", "/api/dashboards/refresh?async=true", None, ADMIN, 202),
    ("get", "/health", None, EVERYONE, 200),
    ("get", "/api/strategy/performance/", None, SIGNALS, 200),
    ("get", "/api/public/dashboard/v2/?limit=5", None, PAPER, 200),
    ("get", "/api/public/dashboard/lite/", None, PAPER, 200),
    ("post", "/api/public/dashboard/clear-cache/", None, ADMIN, 200),
    ("get", "/api/dashboard", None, PAPER, 200),
]


def expected(role: str, allowed: set[str], ok: int, path: str = "") -> int:
    if role in allowed:
        return ok
    if role == N:
        return 302 if path == "/api/docs" else 401  # the docs page sends a browser to sign in
    return 403


def test_every_role_against_every_route(demo_app, users):  # noqa: F811
    facts = demo_facts(demo_app)
    client_password = add_user(demo_app, "cl", "client")
    give_strategy_to(demo_app, "dev", facts["strategy"])
    clients = {
        A: signed_in(demo_app, "admin", users["admin"]),
        AN: signed_in(demo_app, "analyst", users["analyst"]),
        D: signed_in(demo_app, "dev", "developer-password-123"),
        N: demo_app.server.test_client(),
    }
    clients[C] = signed_in(demo_app, "cl", client_password)
    add_user(demo_app, "feed", "ingest")
    with demo_app.server.extensions["tradeboard"].session() as session:
        clients[I] = demo_app.server.test_client()
        clients[I].environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(session, 'feed', 'service')}"
    spec = Spec(document())
    wrong = []
    for method, template, body, allowed, ok in MATRIX:
        path = template.format(own=facts["strategy"], other=facts["other_strategy"], run=facts["run_id"])
        for role in ROLES:
            kwargs = {"json": body} if body is not None else {}
            response = getattr(clients[role], method)(path, **kwargs)
            want = expected(role, allowed, ok, path)
            if response.status_code != want:
                wrong.append(f"{role:9} {method.upper():6} {path}: {response.status_code}, expected {want}")
            elif path != "/api/docs":
                spec.check(method.upper(), path, response)
    assert not wrong, "\n".join(wrong)


def test_a_revoked_token_stops_working_at_the_next_request(demo_app):  # noqa: F811
    state = demo_app.server.extensions["tradeboard"]
    with state.session() as session:
        token = create_token(session, "analyst", "notebook")
    client = demo_app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/dashboards/paper-trading/lite", headers=headers).status_code == 200
    assert client.get("/api/dashboard", headers=headers).status_code == 200
    with state.session() as session:
        session.query(ApiToken).filter_by(name="notebook").one().revoked = True
    for path in ("/api/v1/dashboards/paper-trading/lite", "/api/dashboard", "/api/v1/openapi.json", "/metrics"):
        response = client.get(path, headers=headers)
        assert response.status_code == 401, (path, response.status_code)
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert "invalid_token" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("role", ["client", "developer"])
def test_a_role_that_may_not_gets_json_403_naming_the_rule(demo_app, role):  # noqa: F811
    password = add_user(demo_app, f"x{role}", role)
    client = signed_in(demo_app, f"x{role}", password)
    response = client.get("/api/v1/dashboards/paper-trading")
    assert response.status_code == 403 and response.is_json
    assert response.get_json()["error"]["code"] == "forbidden"
