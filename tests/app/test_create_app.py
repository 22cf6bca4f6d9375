"""create_app: settings checks, pages, shell, assets served from the app (no CDN)."""

from __future__ import annotations

import dataclasses
import json
import re
import threading

import dash
import pytest

from app import CALLBACK_MODULES, ConfigurationError, create_app
from callbacks.shell import status_pills


def test_refuses_an_unknown_cache_type(app_settings):
    with pytest.raises(ConfigurationError, match="CACHE_TYPE must be RedisCache or NullCache"):
        create_app(dataclasses.replace(app_settings, CACHE_TYPE="SimpleCache"))


def test_refuses_redis_cache_without_redis_url(app_settings):
    with pytest.raises(ConfigurationError, match="needs REDIS_URL"):
        create_app(dataclasses.replace(app_settings, REDIS_URL=None))


def test_refuses_a_database_pool_of_no_connections(app_settings):
    with pytest.raises(ConfigurationError, match="DATABASE_POOL_SIZE must be at least 1, got 0"):
        create_app(dataclasses.replace(app_settings, DATABASE_POOL_SIZE=0))


def test_null_cache_without_redis_is_allowed_when_asked_for(app_settings):
    dash_app = create_app(dataclasses.replace(app_settings, REDIS_URL=None, CACHE_TYPE="NullCache"))
    body = dash_app.server.test_client().get("/api/v1/health").get_json()
    assert body["redis"]["ok"] is False and body["redis"]["error"] == "REDIS_URL is not set"


def test_app_keeps_settings_engine_and_sessions(app, app_settings):
    app_state = app.server.extensions["tradeboard"]
    assert app_state.settings is app_settings
    assert str(app_state.engine.url) == app_settings.DATABASE_URL
    assert app.server.secret_key == app_settings.SECRET_KEY
    assert app.config.suppress_callback_exceptions is True


def test_a_busy_process_reuses_its_database_connections(app, app_settings):
    """The connections a burst of concurrent reads opened stay open for the next burst: with SQLAlchemy's
    default pool of 5, every burst of 12 reads at once opened (and then closed) 7 new connections."""
    from sqlalchemy import event, text

    engine = app.server.extensions["tradeboard"].engine
    assert engine.pool.size() == app_settings.DATABASE_POOL_SIZE == 16
    opened, failed = [], []

    def count(*_args):
        opened.append(1)

    def burst(readers: int = 12) -> None:
        together = threading.Barrier(readers)

        def read():
            try:
                with engine.connect() as connection:
                    connection.execute(text("select 1")).all()
                    together.wait(timeout=10)  # every reader holds a connection at the same time
            except Exception as exc:  # noqa: BLE001 - reported below, in the test's thread
                failed.append(exc)

        threads = [threading.Thread(target=read) for _ in range(readers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failed, failed

    event.listen(engine, "connect", count)
    try:
        burst()
        first = len(opened)
        burst()
        assert len(opened) == first, f"the second burst opened {len(opened) - first} new connections"
    finally:
        event.remove(engine, "connect", count)


def test_pages_are_registered_under_their_own_module_names_in_order(app):
    registry = dash.page_registry
    assert "layouts.home" in registry
    assert all(name.startswith("layouts.") for name in registry)
    orders = [page["order"] for page in registry.values()]
    assert orders == sorted(orders)
    assert registry["layouts.home"]["path"] == "/"


def test_callback_modules_are_wired(app):
    assert "callbacks.shell" in CALLBACK_MODULES
    outputs = " ".join(app.callback_map)
    assert "home-status.children" in outputs
    assert "shell-theme.data" in outputs


def _layout_json(client) -> str:
    response = client.get("/_dash-layout")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_navbar_links_every_registered_page_and_names_the_user(client):
    layout = _layout_json(client)
    for page in dash.page_registry.values():
        assert json.dumps(page["relative_path"]).replace("/", "\\u002f") in layout or page["relative_path"] in layout
        assert f'"{page["name"]}"' in layout
    assert '"Ada Admin"' in layout
    assert '"Sign out"' in layout
    assert '"external_link":true' in layout.replace(" ", "")
    assert "shell-theme-switch" in layout


def test_home_page_has_a_card_per_dashboard_and_a_status_strip(client):
    home = dash.page_registry["layouts.home"]["layout"]()
    rendered = json.dumps(home.to_plotly_json(), default=lambda o: o.to_plotly_json())
    others = [p for p in dash.page_registry.values() if p["path"] != "/"]
    for page in others:
        assert page["name"] in rendered
        if page.get("description"):
            assert page["description"] in rendered
    assert "home-status" in rendered
    assert rendered.count("shadow-sm tb-page-card") == len(others)


def test_status_strip_shows_each_service():
    report = {"status": "degraded",
              "database": {"ok": True, "latency_ms": 1.234, "dialect": "sqlite"},
              "redis": {"ok": True, "latency_ms": 0.5},
              "workers": {"ok": False, "count": 0, "last_seen_seconds_ago": None}}
    text = json.dumps([p.to_plotly_json() for p in status_pills(report)], default=lambda o: o.to_plotly_json())
    assert "Database: sqlite 1.2 ms" in text
    assert "Redis: 0.5 ms" in text
    assert "Workers: none running" in text
    assert '"degraded"' in text


def test_status_callback_answers_through_dash(client):
    payload = {
        "output": "home-status.children",
        "outputs": {"id": "home-status", "property": "children"},
        "inputs": [{"id": "home-status-tick", "property": "n_intervals", "value": 0}],
        "changedPropIds": ["home-status-tick.n_intervals"],
        "state": [],
    }
    client.get("/_dash-dependencies")
    response = client.post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Database: sqlite" in response.get_data(as_text=True)


def test_page_html_loads_no_stylesheet_or_script_from_another_host(client):
    html = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert urls, html
    assert all(not u.startswith(("http:", "https:", "//")) for u in urls), urls
    assert any("bootswatch-flatly" in u for u in urls)
    css = client.get("/assets/vendor/bootswatch-flatly-5.3.6.min.css").get_data(as_text=True)
    assert "Bootstrap  v5.3" in css and "@import" not in css and "fonts.googleapis" not in css


def test_login_page_uses_the_vendored_bootstrap(app):
    html = app.server.test_client().get("/login").get_data(as_text=True)
    assert "/assets/vendor/bootswatch-flatly-5.3.6.min.css" in html
    assert 'name="viewport"' in html


def test_the_wsgi_app_is_set_up_before_its_first_request(app_settings):
    """gunicorn's threads must not race Dash's first-request setup (one got a 500 under load): the
    WSGI module finishes it at import, on one thread."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DATABASE_URL": app_settings.DATABASE_URL, "REDIS_URL": app_settings.REDIS_URL,
           "VAR_DIR": app_settings.VAR_DIR, "SECRET_KEY": app_settings.SECRET_KEY, "CACHE_TYPE": "RedisCache"}
    probe = ("import wsgi; print(wsgi.app._got_first_request['setup_server'], "
             "'_dash-update-component' in {r.rule.rsplit('/', 1)[-1] for r in wsgi.server.url_map.iter_rules()}, "
             "len(wsgi.app.callback_map) > 20)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True", "True"], result.stdout
