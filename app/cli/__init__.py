"""The `tradeboard` command: the click group `main`, and the modules whose commands it holds.

    run.py         tradeboard run [--host 127.0.0.1] [--port 8050] [--dev] [--web-workers 2] [--no-demo]
    database.py    tradeboard migrate
                   tradeboard seed [--scale demo|large] [--seed 42] [--reset]
    users.py       tradeboard create-user USERNAME --role ROLE [--password P] [--display-name N] [--accounts "A,B"]
                                          [--reset-password]
                   tradeboard set-accounts USERNAME "A,B"          ("" = every account)
                   tradeboard create-token USERNAME [--name N]
                   tradeboard list-tokens [USERNAME]
                   tradeboard revoke-token TOKEN_ID
    backtests.py   tradeboard import-bars FILE --symbol SYM [--timeframe 1d]
                   tradeboard backtest --symbol SYM --strategy KIND [--param NAME=VALUE ...] [--start D] [--end D]
                                       [--cash N] [--commission-bps B] [--slippage-bps B] [--timeframe 1d] [--json]
    dashboards.py  tradeboard load-dashboards [--time-range 7d|30d|90d|all] [--clear-cache] [--async] [--all-dashboards]
    ingest.py      tradeboard import ENTITY FILE [--format F] [--dry-run] [--errors FILE]

Every command reads the environment through `Settings.from_env()` (DATABASE_URL, REDIS_URL, ...); the REDIS_URL
and DATABASE_URL it leaves unset are those of a running `tradeboard run` (common.py), so a command beside one
writes and invalidates what the running app shows.

A command module holds `commands = click.Group()` and decorates its commands with `@commands.command(...)`;
naming the module in COMMAND_MODULES adds them to `tradeboard`.
"""

from __future__ import annotations

import importlib

import click

from app.cli.run import WEB_THREADS, cache_worker_argv, gunicorn_argv

__all__ = ["COMMAND_MODULES", "WEB_THREADS", "cache_worker_argv", "gunicorn_argv", "main"]

COMMAND_MODULES = ("run", "database", "users", "backtests", "dashboards", "ingest")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """tradeboard: trading desk dashboards."""


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(f"app.cli.{_name}").commands.commands.values():
        main.add_command(_command)
