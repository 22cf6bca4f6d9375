"""The API as a product: JSON errors with the right status, body limits, rate limits, CSRF,
cookies, security headers, required SECRET_KEY, CSV exports and the compatibility routes (same data
as /api/v1, public only when PUBLIC_ROUTES says so)."""

from __future__ import annotations

import csv
import dataclasses
import io
import re

import pytest

from app import ConfigurationError, create_app
from app.csv_export import LIST_COLUMNS, rows_to_csv, schema_columns, tabular_sections
from tests.conftest import build_app, log_in
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures


def settings_with(app_settings, **changes):
    return dataclasses.replace(app_settings, **changes)


# --------------------------------------------------------------------------- errors and limits


def test_api_errors_are_json_with_the_right_status(client):
    for method, path, status, code in [
        ("get", "/api/v1/nope", 404, "not_found"),
        ("delete", "/api/v1/dashboards/client", 405, "method_not_allowed"),
        ("get", "/api/v1/dashboards/client?time_range=2y", 400, "invalid_parameter"),
        ("get", "/api/v1/dashboards/signal-sender?strategy_name=Nope", 404, "not_found"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == status and response.is_json, (path, response.data[:200])
        assert response.get_json()["error"]["code"] == code
        assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_an_oversized_body_is_a_413_before_it_is_read(client):
    response = client.post("/api/v1/backtests", data=b"x" * 1_100_000, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"]["details"]["max_bytes"] == 1_000_000


def test_an_unexpected_failure_is_a_json_500_without_a_traceback(app_settings, users, caplog):
    dash_app = build_app(app_settings)

    @dash_app.server.get("/api/v1/test-explodes")
    def explode():
        raise RuntimeError("secret internals")

    test_client = dash_app.server.test_client()
    log_in(test_client, "admin", users["admin"])
    response = test_client.get("/api/v1/test-explodes")
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and response.is_json
    assert "secret internals" not in body and "Traceback" not in body
    incident = response.get_json()["error"]["details"]["incident"]
    assert incident in caplog.text and "secret internals" in caplog.text


def test_failed_sign_ins_are_rate_limited_per_user_and_successful_ones_are_not(app_settings, users):
    dash_app = build_app(settings_with(app_settings, LOGIN_RATE_LIMIT_PER_USER="3 per minute"))
    fresh = dash_app.server.test_client
    for _ in range(4):  # successful sign-ins do not count
        assert log_in(fresh(), "analyst", users["analyst"]).status_code == 303
    statuses = [log_in(fresh(), "analyst", "wrong-password").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = log_in(fresh(), "analyst", users["analyst"])
    assert limited.status_code == 429 and "Too many sign-in attempts" in limited.get_data(as_text=True)
    assert log_in(fresh(), "admin", users["admin"]).status_code == 303  # another user is not limited


def test_failed_sign_ins_are_rate_limited_per_address(app_settings, users):
    dash_app = build_app(settings_with(app_settings, LOGIN_RATE_LIMIT_PER_ADDRESS="2 per minute"))
    assert [log_in(dash_app.server.test_client(), f"nobody{i}", "x").status_code for i in range(3)] == [401, 401, 429]


def test_the_optional_api_limit_answers_429_with_retry_after(app_settings, users):
    dash_app = build_app(settings_with(app_settings, API_RATE_LIMIT="3 per minute"))
    test_client = dash_app.server.test_client()
    log_in(test_client, "analyst", users["analyst"])
    statuses = [test_client.get("/api/v1/dashboards/paper-trading/lite").status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    limited = test_client.get("/api/v1/dashboards/paper-trading/lite")
    assert limited.get_json()["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1


# --------------------------------------------------------------------------- CSRF, cookies, headers, secrets


def test_cookie_authenticated_writes_must_come_from_this_site(client, app):
    evil = client.post("/api/v1/cache/clear?pattern=none", headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and evil.get_json()["error"]["code"] == "csrf_failed"
    referer = client.post("/api/v1/cache/clear?pattern=none", headers={"Referer": "http://evil.example/page"})
    assert referer.status_code == 403
    same = client.post("/api/v1/cache/clear?pattern=none", headers={"Origin": "http://localhost"})
    assert same.status_code == 200
    with app.server.extensions["tradeboard"].session() as session:
        from app.auth import create_token

        token = create_token(session, "admin", "csrf-test")
    bearer = app.server.test_client().post("/api/v1/cache/clear?pattern=none",
                                           headers={"Origin": "http://evil.example", "Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200  # no cookie, no ambient credential to abuse


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(app, users):
    plain = log_in(app.server.test_client(), "admin", users["admin"]).headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    secure_client = app.server.test_client()
    secure_client.environ_base["wsgi.url_scheme"] = "https"
    page = secure_client.get("/login", base_url="https://localhost")
    import re

    token = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = secure_client.post("/login", base_url="https://localhost",
                                  data={"username": "admin", "password": users["admin"], "form_token": token})
    assert response.status_code == 303 and "Secure" in response.headers["Set-Cookie"]


def test_security_headers_on_pages_and_api(client):
    for path in ("/client", "/api/v1/health", "/login"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "'sha256-" in csp, path


def test_security_headers_are_sent_once_and_on_errors_too(app):
    """The login page sets X-Frame-Options itself: it goes out once. A 404 and a 401 carry them all."""
    client = app.server.test_client()  # not signed in
    for path, status in (("/login", 200), ("/assets/no-such-file.css", 404), ("/api/v1/dashboards/client", 401)):
        response = client.get(path)
        assert response.status_code == status, path
        names = [name.lower() for name, _ in response.headers]
        for header in ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy"):
            assert names.count(header) == 1, (path, header, names)


def test_secret_key_is_required(app_settings):
    with pytest.raises(ConfigurationError, match="SECRET_KEY is required"):
        create_app(settings_with(app_settings, SECRET_KEY=None))


# --------------------------------------------------------------------------- CSV


def test_csv_escapes_formulas_and_flattens_nested_values():
    text = rows_to_csv([{"name": "=HYPERLINK(\"x\")", "pnl": -5.5, "tags": {"a": 1}, "note": "-not a number"}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "pnl", "tags", "note"]
    assert rows[1] == ["'=HYPERLINK(\"x\")", "-5.5", '{"a":1}', "'-not a number"]


# every dashboard route and the tabular sections its document has on demo data
TABULAR = {
    "/api/v1/dashboards/client": {"accounts", "strategy_performance", "positions", "equity_curve", "daily_returns",
                                  "recent_signals"},
    "/api/v1/dashboards/paper-trading": {"open_positions", "shadow_positions", "exit_signals", "queued_signals",
                                         "recent_trades", "top_performers", "source_performance",
                                         "pnl_curve.data_points", "daily_returns.returns", "gex"},
    "/api/v1/dashboards/strategy-performance?time_range=all": {"byVolatility", "bySymbol", "configurations",
                                                               "sharpeOverTime", "heatmap"},
    # Crypto Trend: the demo strategy with rejections (every section has rows)
    "/api/v1/dashboards/signal-sender?strategy_name=Crypto%20Trend": {"signal_history", "current_positions",
                                                                      "rejection_reasons", "cumulative_pnl"},
}


def section_rows(doc: dict, section: str) -> list:
    value = doc
    for part in section.split("."):
        value = value[part]
    return value


def first_cell(row) -> str:
    """How the CSV writes a row's first value (sections lead with a name, a date or a number)."""
    value = next(iter(row.values())) if isinstance(row, dict) else row[0]
    return "" if value is None else str(value)


def test_every_tabular_section_comes_as_csv(demo_app, users):  # noqa: F811
    admin = signed_in(demo_app, "admin", users["admin"])
    for path, expected in TABULAR.items():
        doc = admin.get(path).get_json()
        assert set(tabular_sections(doc)) == expected, path
        joiner = "&" if "?" in path else "?"
        for section in sorted(expected):
            response = admin.get(f"{path}{joiner}format=csv&section={section}")
            where = f"{path} {section}"
            assert response.status_code == 200 and response.mimetype == "text/csv", where
            assert "attachment" in response.headers["Content-Disposition"], where
            header, *rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
            rows_in_json = section_rows(doc, section)
            assert rows, f"{where}: no data row"
            assert len(rows) == len(rows_in_json), where
            first = rows_in_json[0]
            assert header == (list(first) if isinstance(first, dict) else LIST_COLUMNS[section]), where
            assert all(len(row) == len(header) for row in rows), where
            assert [row[0] for row in rows] == [first_cell(r) for r in rows_in_json], where
    accounts = admin.get("/api/v1/dashboards/client?format=csv&section=accounts")
    doc = admin.get("/api/v1/dashboards/client").get_json()
    assert [r["account_name"] for r in csv.DictReader(io.StringIO(accounts.get_data(as_text=True)))] == [
        a["account_name"] for a in doc["accounts"]]
    missing = admin.get("/api/v1/dashboards/paper-trading?format=csv")
    assert missing.status_code == 400 and "open_positions" in missing.get_json()["error"]["details"]["valid"]
    assert admin.get("/api/v1/dashboards/client?format=xml").status_code == 400


DASHBOARD_OF = {"/api/v1/dashboards/client": "client", "/api/v1/dashboards/paper-trading": "paper-trading",
                "/api/v1/dashboards/strategy-performance?time_range=all": "strategy-performance",
                "/api/v1/dashboards/signal-sender?strategy_name=Crypto%20Trend": "signal-sender"}


def test_the_schema_names_the_columns_every_section_really_has(demo_app, users):  # noqa: F811
    """The header of an empty section comes from the API's schema: it must be the header real rows get."""
    admin = signed_in(demo_app, "admin", users["admin"])
    checked = 0
    for path, expected in TABULAR.items():
        doc = admin.get(path).get_json()
        for section in sorted(expected):
            first = section_rows(doc, section)[0]
            if isinstance(first, dict):
                assert schema_columns(DASHBOARD_OF[path], section) == list(first), (path, section)
                checked += 1
    assert checked >= 15, checked


def test_an_empty_section_comes_as_its_header_alone(app_settings, redis_client, users):
    admin = build_app(app_settings).server.test_client()  # an empty book, an empty cache
    log_in(admin, "admin", users["admin"])
    try:
        for section in ("accounts", "positions", "recent_signals"):
            response = admin.get(f"/api/v1/dashboards/client?format=csv&section={section}")
            assert response.status_code == 200, response.get_data(as_text=True)
            lines = response.get_data(as_text=True).splitlines()
            assert lines == [",".join(schema_columns("client", section))], (section, lines)
        text = admin.get("/api/v1/dashboards/paper-trading?format=csv&section=open_positions").get_data(as_text=True)
        assert text.splitlines() == [",".join(schema_columns("paper-trading", "open_positions"))]
        assert text.startswith("trade_id,account,source,symbol")
    finally:
        redis_client.flushdb()  # its empty sections must not answer a later test's demo book


# --------------------------------------------------------------------------- compatibility routes


# what differs between two reads of the same data: when and how fast it was read (real-time
# sections age between the two requests)
TIMING_KEYS = {"metadata", "sections", "age_seconds", "last_signal_age_seconds", "oldest_queued_age_seconds",
               "database_ms", "checked_at", "degraded_for_seconds", "price_age_seconds"}


def data_only(value):
    if isinstance(value, dict):
        return {k: data_only(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [data_only(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"queued for \d+ s", "queued for N s", value)
    return value


def test_compatibility_routes_answer_the_same_data_as_api_v1(demo_app, users):  # noqa: F811
    import time

    # the simulated live prices step each minute: compare the pairs of answers inside one minute
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    admin = signed_in(demo_app, "admin", users["admin"])
    v1 = admin.get("/api/v1/dashboards/client?time_range=30d").get_json()
    old = admin.get("/api/dashboards/client?time_range=30d").get_json()
    assert old["overview"] == v1["overview"] and old["accounts"] == v1["accounts"]
    strategy = admin.get("/api/strategy/performance/?time_range=all").get_json()
    assert strategy["backtest_count"] == admin.get("/api/v1/dashboards/strategy-performance?time_range=all").get_json()[
        "backtest_count"]
    v2 = admin.get("/api/public/dashboard/v2/?limit=5").get_json()
    assert {"overview", "open_positions", "recent_trades", "performance_metrics", "top_performers", "trading_stats",
            "cached", "cache_info"} <= set(v2) and len(v2["open_positions"]) == 5
    assert admin.get("/api/public/dashboard/v2/?limit=0").status_code == 400
    lite = admin.get("/api/public/dashboard/lite/").get_json()
    assert lite["active_trades"] == v2["overview"]["active_trades"]
    aggregated = admin.get("/api/dashboard").get_json()
    assert {"positions", "shadow_positions", "health", "exit_signals", "queued_signals", "source_performance", "gex",
            "pnl_curve", "daily_returns", "metadata"} <= set(aggregated)
    assert set(aggregated["metadata"]) >= {"response_time_ms", "cache_hits", "cache_misses", "timestamp"}
    paper = admin.get("/api/v1/dashboards/paper-trading").get_json()
    assert aggregated["positions"] and data_only(aggregated["positions"]) == data_only(paper["open_positions"])
    for section in set(aggregated) - {"positions", "metadata"}:
        assert aggregated[section] is not None and data_only(aggregated[section]) == data_only(paper[section]), section
    sender_v1 = admin.get("/api/v1/dashboards/signal-sender?strategy_name=Crypto%20Trend").get_json()
    sender_old = admin.get("/api/dashboards/signal-sender?strategy_name=Crypto%20Trend").get_json()
    assert sender_v1["strategy_name"] == "Crypto Trend" and sender_v1["signal_history"]
    assert data_only(sender_old) == data_only(sender_v1)
    assert admin.get("/api/dashboards/signal-sender?strategy_name=Nope").status_code == 404
    health = admin.get("/health")
    assert health.status_code == 200 and health.get_json()["status"] in ("healthy", "degraded")
    cleared = admin.post("/api/public/dashboard/clear-cache/").get_json()
    assert cleared == {"success": True, "message": "Dashboard cache cleared successfully"}
    assert admin.post("/api/dashboards/refresh").get_json()["status"] == "ok"


def test_compatibility_routes_need_sign_in_unless_public(app_settings, users, redis_client, tmp_path):
    closed = build_app(app_settings).server.test_client()
    for path in ("/health", "/api/public/dashboard/lite/", "/api/dashboard", "/api/dashboards/client"):
        assert closed.get(path).status_code == 401, path
    public_app = build_app(settings_with(app_settings, PUBLIC_ROUTES="/health, /api/public/dashboard/lite/",
                                         DATABASE_URL=f"sqlite:///{tmp_path / 'public.db'}"))
    anonymous = public_app.server.test_client()
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/api/public/dashboard/lite/").status_code == 200
    assert anonymous.get("/api/dashboard").status_code == 401
    analyst = public_app.server.test_client()
    log_in(analyst, "analyst", users["analyst"])
    assert analyst.post("/api/public/dashboard/clear-cache/").status_code == 403  # admins only
    with pytest.raises(ConfigurationError, match="valid: "):
        create_app(settings_with(app_settings, PUBLIC_ROUTES="/api/secret"))


def test_control_characters_in_parameters_are_a_400_on_postgresql_too(app_settings, postgres_url, users):
    dash_app = build_app(settings_with(app_settings, DATABASE_URL=postgres_url))
    test_client = dash_app.server.test_client()
    log_in(test_client, "admin", users["admin"])
    for path in ("/api/v1/dashboards/signal-sender?strategy_name=a%00b",
                 "/api/v1/dashboards/signal-sender/signals?strategy_name=x&symbol=%00"):
        response = test_client.get(path)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_parameter", path
    assert test_client.get("/api/v1/tasks/a%00b").status_code == 404
    dash_app.server.extensions["tradeboard"].engine.dispose()


def test_the_api_docs_page_sends_a_browser_to_sign_in(app):
    response = app.server.test_client().get("/api/docs")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
