"""The `tradeboard` command.

    tradeboard run [--host 127.0.0.1] [--port 8050] [--dev] [--web-workers 2]
    tradeboard migrate
    tradeboard seed [--scale demo|large] [--seed 42] [--reset]
    tradeboard create-user USERNAME --role ROLE [--password P] [--display-name N] [--reset-password]
    tradeboard create-token USERNAME [--name N]

Every command reads the environment through `Settings.from_env()` (DATABASE_URL, REDIS_URL, ...).
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import click

from app.config import PROJECT_ROOT, Settings

ADMIN_USERNAME = "admin"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _echo(message: str = "", err: bool = False) -> None:
    click.echo(message, err=err)
    sys.stdout.flush()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """tradeboard: trading desk dashboards."""


# --------------------------------------------------------------------------- database


def _migrate(url: str) -> None:
    from data_access.migrate import upgrade

    upgrade(url)


@main.command()
def migrate() -> None:
    """Bring the database (DATABASE_URL) to the latest schema."""
    settings = _settings()
    _migrate(settings.DATABASE_URL)
    _echo(f"migrated {_display_url(settings.DATABASE_URL)}")


@main.command()
@click.option("--scale", type=click.Choice(["demo", "large"]), default="demo", show_default=True)
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--reset", is_flag=True, help="Replace existing data (admin users are kept).")
def seed(scale: str, seed_value: int, reset: bool) -> None:
    """Fill the database with generated demo data."""
    from data_access.seed import seed as run_seed

    settings = _settings()
    try:
        summary = run_seed(settings.DATABASE_URL, scale=scale, seed=seed_value, reset=reset, progress=True)
    except (RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    for key, value in (summary or {}).items():
        _echo(f"  {key}: {value}")


# --------------------------------------------------------------------------- users and tokens


def _session_factory(url: str):
    from data_access.db import make_engine, make_session_factory

    engine = make_engine(url)
    return engine, make_session_factory(engine)


@main.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "analyst", "client", "developer"]))
@click.option("--password", default=None, help="The password (default: a generated one, printed).")
@click.option("--display-name", default=None, help="Name shown in the navbar (default: the username).")
@click.option("--reset-password", is_flag=True, help="The user exists: give it a new password (and this role).")
def create_user_command(username: str, role: str, password: str | None, display_name: str | None,
                        reset_password: bool) -> None:
    """Add a user, or with --reset-password give an existing one a new password."""
    from sqlalchemy import select

    from app.auth import create_user, set_password
    from data_access.db import session_scope
    from data_access.models import Role, User

    settings = _settings()
    engine, factory = _session_factory(settings.DATABASE_URL)
    try:
        with session_scope(factory) as session:
            existing = session.scalar(select(User).where(User.username == username))
            if existing is not None:
                if not reset_password:
                    raise click.ClickException(
                        f"user {username!r} already exists (use --reset-password to give it a new password)")
                new_password = set_password(session, username, password)
                existing.role = Role(role)
                existing.is_active = True
                if display_name:
                    existing.display_name = display_name
                _echo(f"password reset for {username} (role {role})")
            else:
                try:
                    _user, new_password = create_user(session, username, role, password=password,
                                                      display_name=display_name)
                except ValueError as exc:
                    raise click.ClickException(str(exc)) from None
                _echo(f"created user {username} (role {role})")
    finally:
        engine.dispose()
    if password is None:
        _echo(f"password: {new_password}")


@main.command("create-token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
def create_token_command(username: str, name: str) -> None:
    """Add an API token for USERNAME and print it (shown once; only its hash is stored)."""
    from app.auth import create_token
    from data_access.db import session_scope

    settings = _settings()
    engine, factory = _session_factory(settings.DATABASE_URL)
    try:
        with session_scope(factory) as session:
            try:
                token = create_token(session, username, name)
            except LookupError as exc:
                raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    _echo(f"token for {username} ({name}), shown once:", err=True)
    _echo(token)


# --------------------------------------------------------------------------- run


class _Stop(Exception):
    pass


def _raise_stop(signum, _frame):
    raise _Stop(signal.Signals(signum).name)


def _display_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


def _secret_key(var_dir: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/secret_key."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = var_dir / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _ensure_admin(url: str) -> tuple[str, str | None]:
    """The admin's username and, when this call created it, its password."""
    from sqlalchemy import select

    from app.auth import create_user
    from data_access.db import session_scope
    from data_access.models import Role, User

    engine, factory = _session_factory(url)
    try:
        with session_scope(factory) as session:
            admin = session.scalar(
                select(User.username).where(User.role == Role.ADMIN, User.is_active.is_(True)).order_by(User.id))
            if admin is not None:
                return admin, None
            username = ADMIN_USERNAME
            taken = set(session.scalars(select(User.username).where(User.username.like(f"{ADMIN_USERNAME}%"))))
            n = 2
            while username in taken:
                username, n = f"{ADMIN_USERNAME}{n}", n + 1
            _user, password = create_user(session, username, Role.ADMIN, display_name="Administrator")
            return username, password
    finally:
        engine.dispose()


def _wait_http(url: str, deadline: float, supervisor) -> bool:
    while time.monotonic() < deadline:
        dead = supervisor.exited()
        if dead is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answered (e.g. 503 while degraded)
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    return False


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Dash's debug server with reload instead of gunicorn.")
@click.option("--web-workers", default=2, show_default=True, type=click.IntRange(1, 64))
def run(host: str, port: int, dev: bool, web_workers: int) -> None:
    """Run everything: Redis (private unless REDIS_URL), migrations, demo data, worker, beat and web."""
    from app.services import PrivateRedis, Supervisor, port_open

    settings = _settings()
    var_dir = Path(os.environ.get("TRADEBOARD_VAR") or settings.VAR_DIR).resolve()
    log_dir = var_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    if port_open("127.0.0.1" if host in ("0.0.0.0", "") else host, port):
        raise click.ClickException(f"port {port} is already in use on {host} (choose another with --port)")

    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    redis_server: PrivateRedis | None = None
    supervisor = Supervisor()
    exit_code = 0
    try:
        secret_key = _secret_key(var_dir)
        database_url = settings.DATABASE_URL
        _echo(f"tradeboard: database {_display_url(database_url)}")
        if settings.REDIS_URL:
            redis_url = settings.REDIS_URL
            _echo(f"tradeboard: redis {_display_url(redis_url)}")
        else:
            redis_server = PrivateRedis(var_dir / "redis", log_file=log_dir / "redis.log").start()
            redis_url = redis_server.url
            _echo(f"tradeboard: redis private redis-server on 127.0.0.1:{redis_server.port} (pid {redis_server.process.pid})")

        from data_access.migrate import is_empty

        empty = is_empty(database_url)
        _echo("tradeboard: migrating the database")
        _migrate(database_url)
        if empty:
            _echo("tradeboard: empty database: seeding demo data")
            from data_access.seed import seed as run_seed

            run_seed(database_url, scale="demo", seed=42, reset=False, progress=True)
        admin, admin_password = _ensure_admin(database_url)

        env = dict(os.environ)
        env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=secret_key,
                   TRADEBOARD_VAR=str(var_dir), VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1")
        python = sys.executable
        supervisor.start("worker", [python, "-m", "celery", "-A", "tasks", "worker", "--concurrency", "2",
                                    "--loglevel", "INFO", "--hostname", f"tradeboard-{os.getpid()}@%h"],
                         env=env, cwd=PROJECT_ROOT, log_path=log_dir / "worker.log")
        supervisor.start("beat", [python, "-m", "celery", "-A", "tasks", "beat", "--loglevel", "INFO",
                                  "--schedule", str(var_dir / "celerybeat-schedule")],
                         env=env, cwd=PROJECT_ROOT, log_path=log_dir / "beat.log")
        if dev:
            web_argv = [python, str(PROJECT_ROOT / "wsgi.py"), host, str(port)]
        else:
            web_argv = [python, "-m", "gunicorn", "wsgi:server", "--chdir", str(PROJECT_ROOT),
                        "--bind", f"{host}:{port}", "--workers", str(web_workers),
                        "--worker-class", "gthread", "--threads", "8", "--timeout", "120",
                        "--graceful-timeout", "10", "--access-logfile", str(log_dir / "access.log"),
                        "--error-logfile", "-", "--no-control-socket"]
        supervisor.start("web", web_argv, env=env, cwd=PROJECT_ROOT)

        probe_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        base_url = f"http://{probe_host}:{port}/"
        if not _wait_http(base_url + "api/v1/health", time.monotonic() + 90, supervisor):
            dead = supervisor.exited()
            reason = f"{dead.name} exited with code {dead.process.returncode}" if dead else "no answer within 90 s"
            raise click.ClickException(f"the web server did not start ({reason}); logs are in {log_dir}")

        _echo("")
        _echo(f"  tradeboard is running: {base_url}")
        _echo(f"  username: {admin}")
        if admin_password:
            _echo(f"  password: {admin_password}")
        else:
            _echo(f"  (existing admin; to set a new password, with this same DATABASE_URL / TRADEBOARD_VAR: "
                  f"tradeboard create-user {admin} --role admin --reset-password)")
        _echo(f"  logs: {log_dir}")
        _echo("  Press Ctrl-C to stop.")
        _echo("")

        while True:
            dead = supervisor.exited()
            if dead is not None:
                _echo(f"tradeboard: {dead.name} exited with code {dead.process.returncode}; stopping", err=True)
                exit_code = 1
                break
            time.sleep(0.5)
    except _Stop as stop:
        _echo(f"\ntradeboard: {stop.args[0]}: stopping")
    except click.ClickException as exc:
        exc.show()
        exit_code = 1
    finally:
        # Children first (newest first), the private Redis last; further Ctrl-Cs are ignored meanwhile.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        supervisor.stop_all(on_stop=lambda child: _echo(f"tradeboard: stopping {child.name} (pid {child.pid})"))
        if redis_server is not None:
            _echo(f"tradeboard: stopping redis-server (port {redis_server.port})")
            redis_server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if exit_code == 0:
        _echo("tradeboard: stopped")
    sys.exit(exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
