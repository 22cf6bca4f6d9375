"""`tradeboard run`: the whole system on one machine, supervised. A private Redis (unless REDIS_URL),
migrations, demo data into an empty database (unless --no-demo or TRADEBOARD_DEMO=false), an admin, a Celery worker and beat, and the web under gunicorn;
Ctrl-C stops them in order. Also the argv of the web server and of the cache worker as deployed."""

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

from app.cli.common import (RUN_PID_FILE, RUNNING_SERVICE_FILES, database_session, display_url, echo, env_settings,
                            migrate_database, running_pid, var_dir)
from app.config import PROJECT_ROOT

commands = click.Group()

ADMIN_USERNAME = "admin"


# Threads per gunicorn worker. 16 rather than 8: concurrent requests for one document share its build
# (app/shared_documents.py), and a round can only gather the requests its process holds. Under wrk at 100
# connections, 16 took paper trading from 4.3-5.0 to 3.3-3.5 ms of CPU per request, with lite and the bare
# Flask floor unchanged; 32 made the floor itself 25-55 % dearer per request (bench/LOAD.md).
WEB_THREADS = 16


def gunicorn_argv(python: str, app_spec: str, chdir: Path, bind: str, workers: int, access_log: Path) -> list[str]:
    """The web server as deployed: gunicorn, gthread workers of WEB_THREADS threads.

    ``--reuse-port`` gives each worker its own listening socket, so the kernel spreads new connections
    over the workers. With one shared socket, whichever worker woke first accepted them, and a
    keep-alive connection stays with the worker that accepted it: under wrk, all 10 connections (and
    at times all 100) went to one worker while the other sat idle, halving throughput (bench/LOAD.md).
    ``tradeboard run`` refuses a port already in use, so two servers cannot share one by accident.
    ``AccessLogger`` writes gunicorn's access lines for less CPU (app/access_log.py)."""
    return [python, "-m", "gunicorn", app_spec, "--chdir", str(chdir), "--bind", bind,
            "--workers", str(workers), "--worker-class", "gthread", "--threads", str(WEB_THREADS),
            "--reuse-port", "--timeout", "120", "--graceful-timeout", "10",
            "--access-logfile", str(access_log), "--logger-class", "app.access_log.AccessLogger",
            "--error-logfile", "-", "--no-control-socket"]


def cache_worker_argv(python: str, hostname: str, loglevel: str = "INFO") -> list[str]:
    """The worker of the cache queue (tasks/cache.py): stale sections the web hands over. Its own
    process, so the refreshes never wait behind sweeps on the default queue's worker; two threads,
    because a refresh is mostly waiting on the database and Redis."""
    from tasks.cache import CACHE_QUEUE

    return [python, "-m", "celery", "-A", "tasks", "worker", "--queues", CACHE_QUEUE, "--pool", "threads",
            "--concurrency", "2", "--loglevel", loglevel, "--hostname", hostname]


class _Stop(Exception):
    pass


def _raise_stop(signum, _frame):
    raise _Stop(signal.Signals(signum).name)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


def _secret_key(var: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/secret_key."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = var / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    key = secrets.token_hex(32)
    _write_private(path, key)
    return key


def _announce(var: Path, urls: dict[str, str]) -> None:
    """Leave this run's services (REDIS_URL, DATABASE_URL) in ``var`` for the other commands (common.py reads
    them); the pid last, so whoever sees it alive finds the URLs. A URL may hold a password: owner-only files."""
    for name, file in RUNNING_SERVICE_FILES.items():
        _write_private(var / file, urls[name])
    _write_private(var / RUN_PID_FILE, str(os.getpid()))


def _withdraw(var: Path) -> None:
    """Remove what ``_announce`` left, unless a later run has taken this var dir over."""
    if running_pid(var) != os.getpid():
        return
    (var / RUN_PID_FILE).unlink(missing_ok=True)
    for file in RUNNING_SERVICE_FILES.values():
        (var / file).unlink(missing_ok=True)


def _ensure_admin(url: str) -> tuple[str, str | None]:
    """The admin's username and, when this call created it, its password."""
    from sqlalchemy import select

    from app.auth import create_user
    from data_access.models import Role, User

    with database_session(url) as session:
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


def seeds_demo(database_empty: bool, demo_flag: bool | None, settings) -> bool:
    """Whether this start seeds the demo book: only into an empty database (no accounts and no users), and
    only when asked for: ``--demo/--no-demo`` when given, else TRADEBOARD_DEMO. A database that has its admin
    is not empty, so a book started empty stays empty at the next start, whatever the flag."""
    wanted = settings.TRADEBOARD_DEMO if demo_flag is None else demo_flag
    return database_empty and wanted


def prepare_database(database_url: str, demo_flag: bool | None, settings) -> bool:
    """Migrate, seed the demo book when ``seeds_demo`` says so, and say whether it did."""
    from data_access.migrate import is_empty

    empty = is_empty(database_url)
    echo("tradeboard: migrating the database")
    migrate_database(database_url)
    if seeds_demo(empty, demo_flag, settings):
        echo("tradeboard: empty database: seeding demo data")
        from data_access.seed import seed as run_seed

        run_seed(database_url, scale="demo", seed=42, reset=False, progress=True)
        return True
    if empty:
        echo("tradeboard: empty database: starting with an empty book (no demo data); bring yours in with "
             "POST /api/v1/ingest/<entity> or `tradeboard import ENTITY FILE` (examples/ has a file per entity)")
    return False


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


@commands.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Dash's debug server with reload instead of gunicorn.")
@click.option("--web-workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--demo/--no-demo", "demo", default=None,
              help="Seed demo data into an empty database (default: TRADEBOARD_DEMO, true unless set).")
def run(host: str, port: int, dev: bool, web_workers: int, demo: bool | None) -> None:
    """Run everything: Redis (private unless REDIS_URL), migrations, demo data (unless --no-demo), workers,
    beat and web."""
    from app.services import PrivateRedis, Supervisor, port_open

    settings = env_settings()  # its own services, never those of another run
    var = var_dir(settings).resolve()
    log_dir = var / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    if port_open("127.0.0.1" if host in ("0.0.0.0", "") else host, port):
        raise click.ClickException(f"port {port} is already in use on {host} (choose another with --port)")

    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    redis_server: PrivateRedis | None = None
    supervisor = Supervisor()
    exit_code = 0
    try:
        secret_key = _secret_key(var)
        database_url = settings.DATABASE_URL
        echo(f"tradeboard: database {display_url(database_url)}")
        if settings.REDIS_URL:
            redis_url = settings.REDIS_URL
            echo(f"tradeboard: redis {display_url(redis_url)}")
        else:
            redis_server = PrivateRedis(var / "redis", log_file=log_dir / "redis.log").start()
            redis_url = redis_server.url
            echo(f"tradeboard: redis private redis-server on 127.0.0.1:{redis_server.port} (pid {redis_server.process.pid})")

        _announce(var, {"REDIS_URL": redis_url, "DATABASE_URL": database_url})

        prepare_database(database_url, demo, settings)
        admin, admin_password = _ensure_admin(database_url)

        env = dict(os.environ)
        env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=secret_key,
                   TRADEBOARD_VAR=str(var), VAR_DIR=str(var), PYTHONUNBUFFERED="1")
        python = sys.executable
        supervisor.start("worker", [python, "-m", "celery", "-A", "tasks", "worker", "--concurrency", "2",
                                    "--loglevel", "INFO", "--hostname", f"tradeboard-{os.getpid()}@%h"],
                         env=env, cwd=PROJECT_ROOT, log_path=log_dir / "worker.log")
        if settings.CACHE_REFRESH_ON_WORKERS:
            supervisor.start("cache-worker", cache_worker_argv(python, f"tradeboard-cache-{os.getpid()}@%h"),
                             env=env, cwd=PROJECT_ROOT, log_path=log_dir / "cache-worker.log")
        supervisor.start("beat", [python, "-m", "celery", "-A", "tasks", "beat", "--loglevel", "INFO",
                                  "--schedule", str(var / "celerybeat-schedule")],
                         env=env, cwd=PROJECT_ROOT, log_path=log_dir / "beat.log")
        if dev:
            web_argv = [python, str(PROJECT_ROOT / "wsgi.py"), host, str(port)]
        else:
            web_argv = gunicorn_argv(python, "wsgi:server", PROJECT_ROOT, f"{host}:{port}", web_workers,
                                     log_dir / "access.log")
        supervisor.start("web", web_argv, env=env, cwd=PROJECT_ROOT)

        probe_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        base_url = f"http://{probe_host}:{port}/"
        if not _wait_http(base_url + "api/v1/health", time.monotonic() + 90, supervisor):
            dead = supervisor.exited()
            reason = f"{dead.name} exited with code {dead.process.returncode}" if dead else "no answer within 90 s"
            raise click.ClickException(f"the web server did not start ({reason}); logs are in {log_dir}")

        echo("")
        echo(f"  tradeboard is running: {base_url}")
        echo(f"  username: {admin}")
        if admin_password:
            echo(f"  password: {admin_password}")
        else:
            echo(f"  (existing admin; to set a new password, with this same DATABASE_URL / TRADEBOARD_VAR: "
                 f"tradeboard create-user {admin} --role admin --reset-password)")
        echo(f"  logs: {log_dir}")
        echo("  Press Ctrl-C to stop.")
        echo("")

        while True:
            dead = supervisor.exited()
            if dead is not None:
                echo(f"tradeboard: {dead.name} exited with code {dead.process.returncode}; stopping", err=True)
                exit_code = 1
                break
            time.sleep(0.5)
    except _Stop as stop:
        echo(f"\ntradeboard: {stop.args[0]}: stopping")
    except click.ClickException as exc:
        exc.show()
        exit_code = 1
    finally:
        # Children first (newest first), the private Redis last; further Ctrl-Cs are ignored meanwhile.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        _withdraw(var)
        supervisor.stop_all(on_stop=lambda child: echo(f"tradeboard: stopping {child.name} (pid {child.pid})"))
        if redis_server is not None:
            echo(f"tradeboard: stopping redis-server (port {redis_server.port})")
            redis_server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if exit_code == 0:
        echo("tradeboard: stopped")
    sys.exit(exit_code)
