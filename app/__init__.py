"""The composition root: `create_app(settings)` builds the Dash app, its Flask server and their wiring.

Heavy imports (Dash, Flask, SQLAlchemy) happen inside `create_app`, so `import app.config` stays
cheap for Celery workers and the CLI.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import dash

    from app.config import Settings

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_FOLDER = PROJECT_ROOT / "assets"
PAGES_PACKAGE = "layouts"

# Bootstrap 5.3 (Bootswatch "flatly") vendored from the bootswatch npm package: dbc.themes.FLATLY is a
# CDN URL and the app must work with no network. Loaded as an external stylesheet (so it comes before
# every file of assets/) and kept out of Dash's automatic asset list.
BOOTSTRAP_CSS = "vendor/bootswatch-flatly-5.3.6.min.css"
ASSETS_PATH_IGNORE = [r"^vendor$"]  # folders of assets/ Dash must not add to every page

ALLOWED_CACHE_TYPES = ("RedisCache", "NullCache")

# Callback modules: each has `register(app)`. Add a page's callbacks module here.
CALLBACK_MODULES = (
    "callbacks.shell",
    "callbacks.client",
    "callbacks.signal_sender",
    "callbacks.strategies",
    "callbacks.backtest_form",
    "callbacks.paper_trading",
    "callbacks.ops",
    "callbacks.playback",
    "callbacks.imports",
    "callbacks.import_history",
)

# Flask blueprints / hooks: each module has `init_app(server)` or a `blueprint` (registered as is).
# Order matters: auth's guard first.
SERVER_MODULES = (
    "app.auth",
    "app.security",
    "app.monitoring",
    "app.api",
    "app.dashboards_api",
    "app.backtests_api",
    "app.ingest_api",
    "app.import_upload",
    "app.playback_api",
    "app.compat_api",
    "app.openapi",
)


class ConfigurationError(RuntimeError):
    """The settings cannot run an app (raised by `create_app`, printed by the CLI)."""


def check_settings(settings: Settings) -> None:
    if settings.CACHE_TYPE not in ALLOWED_CACHE_TYPES:
        raise ConfigurationError(
            f"CACHE_TYPE must be RedisCache or NullCache, got {settings.CACHE_TYPE!r}"
        )
    if settings.CACHE_TYPE == "RedisCache" and not settings.REDIS_URL:
        raise ConfigurationError(
            "CACHE_TYPE=RedisCache needs REDIS_URL: set REDIS_URL (e.g. redis://127.0.0.1:6379/0), "
            "use `tradeboard run` (which starts a private Redis), or set CACHE_TYPE=NullCache to run without a cache"
        )
    if not settings.SECRET_KEY:
        raise ConfigurationError(
            "SECRET_KEY is required: set it to a long random value shared by every web and worker process "
            "(`tradeboard run` generates one for the embedded demo and keeps it in var/secret_key)")
    if settings.DATABASE_POOL_SIZE < 1:
        raise ConfigurationError(f"DATABASE_POOL_SIZE must be at least 1, got {settings.DATABASE_POOL_SIZE}")


def import_pages() -> list[str]:
    """Import every module of `layouts` that calls ``register_page``; returns their names.

    Dash's own ``pages_folder`` loader executes page files under a module name derived from file
    paths (e.g. ``work.main.layouts.client``), so a normal ``import layouts.client`` elsewhere
    would run ``register_page`` a second time under another name and Dash would refuse the
    duplicate path. Importing them as the real package modules gives one module per page. Pages
    already imported are re-registered (the registry is global, and a page imported before any
    app existed could not register).
    """
    import dash
    from dash._pages import PAGE_REGISTRY

    package = importlib.import_module(PAGES_PACKAGE)
    names = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        path = Path(package.__path__[0]) / f"{info.name}.py"
        if not path.is_file() or "register_page" not in path.read_text(encoding="utf-8"):
            continue
        name = f"{PAGES_PACKAGE}.{info.name}"
        module = importlib.import_module(name)
        if name not in PAGE_REGISTRY:
            module = importlib.reload(module)
        page = PAGE_REGISTRY.get(name)
        if page is None:
            raise ConfigurationError(f"{name} mentions register_page but registered no page")
        if not page.get("supplied_layout"):
            layout = getattr(module, "layout", None)
            if layout is None:
                raise ConfigurationError(f"{name} registers a page but defines no layout")
            page["layout"] = layout
        names.append(name)
    assert dash.page_registry is PAGE_REGISTRY
    return names


def create_app(settings: Settings | None = None) -> dash.Dash:
    import dash
    import flask

    from app import extensions, shell
    from app.config import Settings
    from data_access.db import configure_database_from, make_session_factory

    settings = settings or Settings.from_env()
    check_settings(settings)

    server = flask.Flask("tradeboard", root_path=str(PROJECT_ROOT))
    server.config.update(
        SECRET_KEY=settings.SECRET_KEY,
        SESSION_COOKIE_NAME="tradeboard_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        TB_BOOTSTRAP_CSS_URL=f"/assets/{BOOTSTRAP_CSS}",
        TB_APP_CSS_URL="/assets/tradeboard.css",
        JSON_SORT_KEYS=False,
    )

    # Database: one engine per process, shared with data_access (configure_database) and kept on the app.
    engine = configure_database_from(settings)
    app_state = extensions.AppState(settings=settings, engine=engine, session_factory=make_session_factory(engine))
    server.extensions[extensions.EXTENSION_KEY] = app_state

    # Caches: flask-caching for ad-hoc use, the section cache for the dashboards.
    extensions.cache.init_app(server, config={
        "CACHE_TYPE": settings.CACHE_TYPE,
        "CACHE_REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": "tb:fc:",
        "CACHE_DEFAULT_TIMEOUT": settings.CACHE_TTL_SHORT,
    })
    _configure_section_cache(settings)
    background_manager = None
    if settings.REDIS_URL:  # the API queues Celery work on this app's Redis; pages run background callbacks there
        import tasks

        tasks.use_settings(settings)
        background_manager = dash.CeleryManager(tasks.celery_app)

    for module_name in SERVER_MODULES:
        _init_server_module(server, module_name)

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder="",  # pages are imported by import_pages() below (see its docstring)
        assets_folder=str(ASSETS_FOLDER),
        assets_path_ignore=ASSETS_PATH_IGNORE,
        external_stylesheets=[f"/assets/{BOOTSTRAP_CSS}?v=5.3.6"],
        suppress_callback_exceptions=True,
        title="tradeboard",
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        serve_locally=True,
        background_callback_manager=background_manager,
    )
    app.index_string = shell.INDEX_STRING
    import_pages()
    app.layout = shell.layout

    for module_name in CALLBACK_MODULES:
        module = _optional_import(module_name)
        if module is not None:
            module.register(app)
    from app import security

    security.finish(app)
    return app


def _optional_import(module_name: str):
    """The module, or None when it does not exist yet (errors inside an existing module propagate)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def _init_server_module(server, module_name: str) -> None:
    module = _optional_import(module_name)
    if module is None:
        return
    if hasattr(module, "init_app"):
        module.init_app(server)
    elif hasattr(module, "blueprint"):
        server.register_blueprint(module.blueprint)
    else:
        raise ConfigurationError(f"{module_name} has neither init_app(server) nor a blueprint")


def _configure_section_cache(settings: Settings) -> None:
    from data_access.cache import sections

    sections.configure_from(settings)
    sections.refresh_elsewhere = None
    if settings.CACHE_TYPE == "RedisCache" and settings.CACHE_REFRESH_ON_WORKERS:
        from tasks.cache import CacheWorkers

        sections.refresh_elsewhere = CacheWorkers(sections.redis)
