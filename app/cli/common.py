"""What the commands share: their settings (with the services of a running `tradeboard run`), output,
a database session, the schema, and invalidating the cache after a write."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from app.config import Settings

# While `tradeboard run` runs, it leaves in the var dir its pid and the URLs of the Redis and the database
# it serves from, so that the other commands, started with neither REDIS_URL nor DATABASE_URL, reach them.
RUN_PID_FILE = "run.pid"
RUNNING_SERVICE_FILES = {"REDIS_URL": "redis.url", "DATABASE_URL": "database.url"}


def env_settings() -> Settings:
    """Settings from the environment alone; a bad value is a message, not a traceback."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def var_dir(settings: Settings) -> Path:
    return Path(os.environ.get("TRADEBOARD_VAR") or settings.VAR_DIR)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pid(var: Path) -> int | None:
    """The pid of the `tradeboard run` serving from ``var``, when one is alive."""
    try:
        pid = int((var / RUN_PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def running_services(var: Path) -> dict[str, str]:
    """REDIS_URL and DATABASE_URL of the `tradeboard run` alive on ``var``; empty when none is (files a
    killed run left behind are ignored)."""
    if running_pid(var) is None:
        return {}
    found = {}
    for name, file in RUNNING_SERVICE_FILES.items():
        try:
            value = (var / file).read_text().strip()
        except OSError:
            continue
        if value:
            found[name] = value
    return found


def load_settings() -> Settings:
    """The settings of a command: the environment's, and for REDIS_URL and DATABASE_URL it leaves unset,
    those of a running `tradeboard run`, so a command changes and invalidates what the running app shows."""
    from_env = env_settings()
    found = {name: url for name, url in running_services(var_dir(from_env)).items() if not os.environ.get(name)}
    return Settings.from_env(**found) if found else from_env


def echo(message: str = "", err: bool = False) -> None:
    click.echo(message, err=err)
    sys.stdout.flush()


def display_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


@contextmanager
def database_session(url: str) -> Iterator:
    """One session on its own engine: committed on success, rolled back on any error, the engine disposed."""
    from data_access.db import make_engine, make_session_factory, session_scope

    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def migrate_database(url: str) -> None:
    from data_access.migrate import upgrade

    upgrade(url)


def ensure_schema(url: str, table: str) -> None:
    """Migrate a database that does not have ``table`` yet (a fresh SQLite file, say)."""
    from sqlalchemy import inspect

    from data_access.db import make_engine

    engine = make_engine(url)
    try:
        missing = not inspect(engine).has_table(table)
    finally:
        engine.dispose()
    if missing:
        migrate_database(url)


def bump_cache(settings: Settings, *families: str) -> bool:
    """Invalidate the cached sections that read ``families`` (none: every cached section); warn (never
    fail) when that cannot be done. True when the cache was invalidated."""
    from data_access.cache import CacheNotConfigured, sections

    what = ", ".join(families) or "every section"
    if not settings.REDIS_URL:
        if settings.CACHE_TYPE != "NullCache":
            echo(f"note: REDIS_URL is not set and no `tradeboard run` is running, so no shared cache to "
                 f"invalidate ({what})", err=True)
        return False
    try:
        sections.configure_from(settings)
    except CacheNotConfigured as exc:
        echo(f"warning: cache not invalidated ({what}): {exc}", err=True)
        return False
    if not families:
        import redis

        try:
            sections.clear()
        except redis.RedisError as exc:
            echo(f"warning: Redis unreachable, cache not invalidated ({what}): {type(exc).__name__}: {exc}", err=True)
            return False
        return True
    sections.bump(*families)
    status = sections.status()
    if status["degraded"]:
        echo(f"warning: Redis unreachable, cache not invalidated ({what}): {status['last_error']}", err=True)
        return False
    return True
