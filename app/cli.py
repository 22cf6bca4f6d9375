"""The `tradeboard` command.

    tradeboard run [--host 127.0.0.1] [--port 8050] [--dev] [--web-workers 2]
    tradeboard migrate
    tradeboard seed [--scale demo|large] [--seed 42] [--reset]
    tradeboard create-user USERNAME --role ROLE [--password P] [--display-name N] [--accounts "A,B"] [--reset-password]
    tradeboard set-accounts USERNAME "A,B"          ("" = every account)
    tradeboard create-token USERNAME [--name N]
    tradeboard list-tokens [USERNAME]
    tradeboard revoke-token TOKEN_ID
    tradeboard import-bars FILE --symbol SYM [--timeframe 1d]
    tradeboard backtest --symbol SYM --strategy KIND [--param NAME=VALUE ...] [--start D] [--end D] [--cash N]
                        [--commission-bps B] [--slippage-bps B] [--timeframe 1d] [--json]

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


RUNNING_REDIS_FILE = "redis.url"  # in VAR_DIR while `tradeboard run` runs its private Redis


def _settings() -> Settings:
    """Settings from the environment; without REDIS_URL, the private Redis of a running
    `tradeboard run` (so `load-dashboards`, `import-bars`... reach the cache the app reads)."""
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    running = Path(os.environ.get("TRADEBOARD_VAR") or settings.VAR_DIR) / RUNNING_REDIS_FILE
    if not settings.REDIS_URL and running.is_file():
        settings = Settings.from_env(REDIS_URL=running.read_text().strip())
    return settings


def _echo(message: str = "", err: bool = False) -> None:
    click.echo(message, err=err)
    sys.stdout.flush()


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


def _parse_accounts(value: str | None) -> str | None:
    """``"A, B,,A"`` -> ``"A,B"`` (stripped, de-duplicated, in the order given); blank -> None (every account)."""
    if value is None:
        return None
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    return ",".join(names) or None


def _warn_unknown_accounts(session, scope: str | None, role: str) -> None:
    """Warn (never fail) about names that match no account, and about a scope on a role it does not limit."""
    from sqlalchemy import select

    from data_access.models import Account

    if not scope:
        return
    names = scope.split(",")
    known = set(session.scalars(select(Account.name).where(Account.name.in_(names))))
    unknown = [n for n in names if n not in known]
    if unknown:
        _echo(f"warning: no account named {', '.join(repr(n) for n in unknown)}: they match nothing "
              "(the user sees only the accounts that exist)", err=True)
    if role != "client":
        _echo(f"note: the account scope applies to the client role only; a {role} sees every account", err=True)


def _describe_scope(scope: str | None) -> str:
    return f"accounts {scope}" if scope else "every account"


@main.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "analyst", "client", "developer"]))
@click.option("--password", default=None, help="The password (default: a generated one, printed).")
@click.option("--display-name", default=None, help="Name shown in the navbar (default: the username).")
@click.option("--accounts", default=None, metavar='"A,B"',
              help="Limit a client to these accounts (comma-separated names; default: every account).")
@click.option("--reset-password", is_flag=True, help="The user exists: give it a new password (and this role).")
def create_user_command(username: str, role: str, password: str | None, display_name: str | None,
                        accounts: str | None, reset_password: bool) -> None:
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
                if accounts is not None:
                    existing.account_scope = _parse_accounts(accounts)
                    _warn_unknown_accounts(session, existing.account_scope, role)
                _echo(f"password reset for {username} (role {role})")
            else:
                scope = _parse_accounts(accounts)
                try:
                    _user, new_password = create_user(session, username, role, password=password,
                                                      display_name=display_name, account_scope=scope)
                except ValueError as exc:
                    raise click.ClickException(str(exc)) from None
                _warn_unknown_accounts(session, scope, role)
                _echo(f"created user {username} (role {role}, {_describe_scope(scope)})")
    finally:
        engine.dispose()
    if password is None:
        _echo(f"password: {new_password}")


@main.command("set-accounts")
@click.argument("username")
@click.argument("accounts")
def set_accounts_command(username: str, accounts: str) -> None:
    """Limit USERNAME (a client) to ACCOUNTS, comma-separated account names; "" gives every account.

    Takes effect at the user's next request. Names that match no account are kept, with a warning.
    """
    from sqlalchemy import select

    from data_access.db import session_scope
    from data_access.models import Role, User

    settings = _settings()
    engine, factory = _session_factory(settings.DATABASE_URL)
    try:
        with session_scope(factory) as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise click.ClickException(f"no user {username!r}")
            user.account_scope = _parse_accounts(accounts)
            role = user.role.value if isinstance(user.role, Role) else str(user.role)
            _warn_unknown_accounts(session, user.account_scope, role)
            _echo(f"{username} (role {role}) now sees {_describe_scope(user.account_scope)}")
    finally:
        engine.dispose()


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


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


@main.command("list-tokens")
@click.argument("username", required=False)
def list_tokens_command(username: str | None) -> None:
    """List API tokens (all, or USERNAME's): id, user, name, created, last used, revoked. Never the secret."""
    from sqlalchemy import select

    from data_access.db import session_scope
    from data_access.models import ApiToken, User

    settings = _settings()
    engine, factory = _session_factory(settings.DATABASE_URL)
    try:
        with session_scope(factory) as session:
            query = (select(ApiToken.id, User.username, ApiToken.name, ApiToken.created_at, ApiToken.last_used_at,
                            ApiToken.revoked)
                     .join(User, User.id == ApiToken.user_id).order_by(ApiToken.id))
            if username is not None:
                if session.scalar(select(User.id).where(User.username == username)) is None:
                    raise click.ClickException(f"no user {username!r}")
                query = query.where(User.username == username)
            rows = session.execute(query).all()
    finally:
        engine.dispose()
    if not rows:
        _echo(f"no tokens{f' for {username}' if username else ''}")
        return
    table = [("ID", "USER", "NAME", "CREATED (UTC)", "LAST USED (UTC)", "REVOKED")]
    table += [(str(i), user, name, _when(created), _when(used), "yes" if revoked else "no")
              for i, user, name, created, used, revoked in rows]
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    for row in table:
        _echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@main.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token_command(token_id: int) -> None:
    """Revoke the API token TOKEN_ID (from list-tokens); it stops working at the next request."""
    from data_access.db import session_scope
    from data_access.models import ApiToken

    settings = _settings()
    engine, factory = _session_factory(settings.DATABASE_URL)
    try:
        with session_scope(factory) as session:
            token = session.get(ApiToken, token_id)
            if token is None:
                raise click.ClickException(f"no token with id {token_id} (see `tradeboard list-tokens`)")
            already = bool(token.revoked)
            token.revoked = True
            label = f"token {token_id} ({token.name}) of {token.user.username}"
    finally:
        engine.dispose()
    _echo(f"{label} was already revoked" if already else f"revoked {label}")


# --------------------------------------------------------------------------- bars and backtests


def _ensure_schema(url: str, table: str) -> None:
    """Migrate a database that does not have ``table`` yet (a fresh SQLite file, say)."""
    from sqlalchemy import inspect

    from data_access.db import make_engine

    engine = make_engine(url)
    try:
        missing = not inspect(engine).has_table(table)
    finally:
        engine.dispose()
    if missing:
        _migrate(url)


def _bump_cache(settings: Settings, family: str) -> None:
    """Invalidate the cached sections that read ``family``; warn (never fail) when that cannot be done."""
    from data_access.cache import CacheNotConfigured, sections

    if not settings.REDIS_URL:
        if settings.CACHE_TYPE != "NullCache":
            _echo(f"note: REDIS_URL is not set, so no shared cache to invalidate ({family}); a running "
                  "`tradeboard run` with its private Redis shows the change when its cached sections expire", err=True)
        return
    try:
        sections.configure_from(settings)
    except CacheNotConfigured as exc:
        _echo(f"warning: cache not invalidated ({family}): {exc}", err=True)
        return
    sections.bump(family)
    status = sections.status()
    if status["degraded"]:
        _echo(f"warning: Redis unreachable, cache not invalidated ({family}): {status['last_error']}", err=True)


# --------------------------------------------------------------------------- background work by hand


@main.command("load-dashboards")
@click.option("--time-range", type=click.Choice(["7d", "30d", "90d", "all"]), default=None,
              help="Aggregate only this range (default: all four).")
@click.option("--clear-cache", is_flag=True, help="Invalidate the strategy dashboard's cached sections first.")
@click.option("--async", "queue", is_flag=True, help="Queue it on a Celery worker and print the task id.")
@click.option("--all-dashboards", is_flag=True, help="Also rebuild the client, signal-sender and paper-trading dashboards.")
def load_dashboards(time_range: str | None, clear_cache: bool, queue: bool, all_dashboards: bool) -> None:
    """Aggregate the strategy dashboard (every time range) now, or queue it."""
    from data_access.cache import sections
    from data_access.db import configure_database_from

    settings = _settings()
    if not settings.REDIS_URL:
        raise click.ClickException("REDIS_URL is not set and no `tradeboard run` is running: there is no cache to load")
    sections.configure_from(settings)
    if clear_cache:
        from tasks.dashboards import invalidate_strategy_cache

        invalidate_strategy_cache()  # the task's body, run here: cleared before anything is rebuilt or queued
        _echo("cleared: the strategy dashboard's cached sections (backtests family)")
    if queue:
        import tasks

        tasks.use_settings(settings)
        if all_dashboards:
            result = tasks.celery_app.send_task("tasks.dashboards.refresh_all_dashboards")
        elif time_range:
            result = tasks.celery_app.send_task("tasks.dashboards.refresh_strategy_dashboard", args=(time_range,))
        else:
            result = tasks.celery_app.send_task("tasks.dashboards.aggregate_strategy_performance")
        _echo(f"queued: {result.id}")
        return
    from data_access import warming

    configure_database_from(settings)
    started = time.perf_counter()
    try:
        if all_dashboards:
            report = warming.warm_all(settings, [time_range] if time_range else None)
            for name, built in report["refreshed"].items():
                _echo(f"{name}: {built}")
            if report["errors"]:
                raise click.ClickException(f"failed: {report['errors']}")
        else:
            for range_name, ms in warming.warm_strategy([time_range] if time_range else None).items():
                _echo(f"strategy performance {range_name}: aggregated in {ms:.1f} ms")
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed load is a message and a non-zero exit, not a traceback
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    _echo(f"done in {time.perf_counter() - started:.2f} s")


@main.command("import-bars")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--symbol", required=True, help="The symbol the bars are for (upper-cased).")
@click.option("--timeframe", default="1d", show_default=True, help="One of 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w.")
def import_bars_command(file: Path, symbol: str, timeframe: str) -> None:
    """Import OHLCV bars from a CSV or Parquet FILE (all rows or none; re-importing is idempotent).

    The time is a timestamp, date or datetime column (or a Parquet index); naive times are UTC,
    others are converted to UTC. Columns open, high, low, close and optional volume, any letter case.
    """
    from data_access.bars_import import BarsImportError, check_symbol, check_timeframe, import_bars, read_bars

    try:
        symbol, timeframe = check_symbol(symbol), check_timeframe(timeframe)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    settings = _settings()
    started = time.perf_counter()
    try:
        frame = read_bars(file)
    except BarsImportError as exc:
        raise click.ClickException(str(exc)) from None
    _ensure_schema(settings.DATABASE_URL, "bars")
    try:
        result = import_bars(settings.DATABASE_URL, frame, symbol, timeframe)
    except (BarsImportError, RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    _bump_cache(settings, "bars")
    _echo(f"imported {result.rows} {timeframe} bars for {symbol} from {file}: {result.inserted} inserted, "
          f"{result.updated} updated, {result.unchanged} unchanged")
    _echo(f"  first {result.first.isoformat()}  last {result.last.isoformat()}  "
          f"({time.perf_counter() - started:.2f} s)")


def _parse_params(values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        params[name.strip()] = value.strip()
    return params


def _window_bound(value: str | None, option: str):
    import pandas as pd

    if value is None:
        return None, False
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise click.BadParameter(f"{value!r} is not a date or time", param_hint=option) from None
    if stamp is pd.NaT:
        raise click.BadParameter(f"{value!r} is not a date or time", param_hint=option)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    date_only = len(value.strip()) <= 10 and stamp == stamp.normalize()
    return stamp.to_pydatetime(), date_only


@main.command("backtest")
@click.option("--symbol", required=True, help="A symbol with imported bars.")
@click.option("--strategy", "kind", required=True, help="The strategy kind (sma_cross, rsi_reversion, ...).")
@click.option("--param", "param_values", multiple=True, metavar="NAME=VALUE",
              help="A strategy parameter (repeatable); the others take their defaults.")
@click.option("--start", default=None, help="First bar's date or time (default: the first stored bar).")
@click.option("--end", default=None, help="Last bar's date (inclusive) or time (default: the last stored bar).")
@click.option("--cash", type=float, default=100_000.0, show_default=True, help="Starting cash.")
@click.option("--commission-bps", type=float, default=0.0, show_default=True, help="Commission in basis points.")
@click.option("--slippage-bps", type=float, default=0.0, show_default=True, help="Slippage in basis points.")
@click.option("--timeframe", default="1d", show_default=True, help="The bars' timeframe.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored run as one JSON object.")
def backtest_command(symbol: str, kind: str, param_values: tuple[str, ...], start: str | None, end: str | None,
                     cash: float, commission_bps: float, slippage_bps: float, timeframe: str, as_json: bool) -> None:
    """Run one backtest on stored bars, store it (with trades and equity curve) and print it."""
    import datetime as dt
    import json

    import pandas as pd

    from analytics import backtest as bt
    from data_access.backtest_store import FAMILY, load_run, store_run
    from data_access.bars_import import check_symbol, check_timeframe, load_bars, stored_series

    try:
        symbol, timeframe = check_symbol(symbol), check_timeframe(timeframe)
        params = bt.validate_params(kind, _parse_params(param_values))
        bt.Settings(cash=cash, commission_bps=commission_bps, slippage_bps=slippage_bps)
    except (bt.BacktestError, ValueError) as exc:  # unknown kind or parameter: the message lists the valid ones
        raise click.ClickException(str(exc)) from None
    lower, _ = _window_bound(start, "--start")
    upper, end_is_date = _window_bound(end, "--end")
    if end_is_date:
        upper = upper + pd.Timedelta(days=1).to_pytimedelta()  # the whole end day
    if lower is not None and upper is not None and lower >= upper:
        raise click.BadParameter("--start must be before --end", param_hint="--start")
    created_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    settings = _settings()
    url = settings.DATABASE_URL
    _ensure_schema(url, "backtest_runs")
    frame = load_bars(url, symbol, timeframe, lower, upper, end_exclusive=end_is_date)
    if frame.empty:
        series = stored_series(url)
        window = f" between {start or 'the start'} and {end or 'the end'}" if (start or end) else ""
        have = ", ".join(f"{s['symbol']} ({s['timeframe']}, {s['bars']} bars)" for s in series)
        hint = (f"symbols with bars: {have}" if have
                else "no bars are stored yet: import some with `tradeboard import-bars`")
        raise click.ClickException(f"no {timeframe} bars for {symbol}{window}; {hint}")
    try:
        result = bt.run(frame, kind, params, cash=cash, commission_bps=commission_bps, slippage_bps=slippage_bps)
    except bt.BacktestError as exc:
        raise click.ClickException(f"{symbol} {timeframe}: {exc}") from None
    run_id = store_run(url, result, symbol=symbol, timeframe=timeframe, settings=settings, created_at=created_at)
    _bump_cache(settings, FAMILY)
    doc = load_run(run_id, url, include_equity=False)
    if as_json:
        click.echo(json.dumps(doc, allow_nan=False))
        return
    m = doc["metrics"]

    def fmt(key: str, suffix: str = "") -> str:
        value = m.get(key)
        return "n/a" if value is None else (f"{value:,.2f}{suffix}" if isinstance(value, float) else f"{value}{suffix}")

    _echo(f"backtest {run_id}: {doc['config_key']} on {symbol} {timeframe}, {doc['start']} .. {doc['end']} "
          f"({m.get('bars')} bars), cash {cash:,.2f}")
    _echo(f"  total return {fmt('total_return_pct', ' %')}  sharpe {fmt('sharpe_ratio')}  "
          f"max drawdown {fmt('max_drawdown_pct', ' %')}  final equity {fmt('final_equity')}")
    _echo(f"  trades {fmt('number_of_trades')}  win rate {fmt('win_rate_pct', ' %')}  "
          f"profit factor {fmt('profit_factor')}  exposure {fmt('exposure_pct', ' %')}")
    _echo(f"  volatility regime {doc['volatility_regime'] or 'n/a'}; full run: tradeboard backtest ... --json")


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
    """Run everything: Redis (private unless REDIS_URL), migrations, demo data, workers, beat and web."""
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
            (var_dir / RUNNING_REDIS_FILE).write_text(redis_url + "\n")
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
        if settings.CACHE_REFRESH_ON_WORKERS:
            supervisor.start("cache-worker", cache_worker_argv(python, f"tradeboard-cache-{os.getpid()}@%h"),
                             env=env, cwd=PROJECT_ROOT, log_path=log_dir / "cache-worker.log")
        supervisor.start("beat", [python, "-m", "celery", "-A", "tasks", "beat", "--loglevel", "INFO",
                                  "--schedule", str(var_dir / "celerybeat-schedule")],
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
            (var_dir / RUNNING_REDIS_FILE).unlink(missing_ok=True)
            redis_server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if exit_code == 0:
        _echo("tradeboard: stopped")
    sys.exit(exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
