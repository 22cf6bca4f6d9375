"""Bars and backtests: import-bars, backtest."""

from __future__ import annotations

import time
from pathlib import Path

import click

from app.cli.common import bump_cache, echo, ensure_schema, load_settings

commands = click.Group()


@commands.command("import-bars")
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
    settings = load_settings()
    started = time.perf_counter()
    try:
        frame = read_bars(file)
    except BarsImportError as exc:
        raise click.ClickException(str(exc)) from None
    ensure_schema(settings.DATABASE_URL, "bars")
    try:
        result = import_bars(settings.DATABASE_URL, frame, symbol, timeframe)
    except (BarsImportError, RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    bump_cache(settings, "bars")
    echo(f"imported {result.rows} {timeframe} bars for {symbol} from {file}: {result.inserted} inserted, "
          f"{result.updated} updated, {result.unchanged} unchanged")
    echo(f"  first {result.first.isoformat()}  last {result.last.isoformat()}  "
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


@commands.command("backtest")
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
    settings = load_settings()
    url = settings.DATABASE_URL
    ensure_schema(url, "backtest_runs")
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
    bump_cache(settings, FAMILY)
    doc = load_run(run_id, url, include_equity=False)
    if as_json:
        click.echo(json.dumps(doc, allow_nan=False))
        return
    m = doc["metrics"]

    def fmt(key: str, suffix: str = "") -> str:
        value = m.get(key)
        return "n/a" if value is None else (f"{value:,.2f}{suffix}" if isinstance(value, float) else f"{value}{suffix}")

    echo(f"backtest {run_id}: {doc['config_key']} on {symbol} {timeframe}, {doc['start']} .. {doc['end']} "
          f"({m.get('bars')} bars), cash {cash:,.2f}")
    echo(f"  total return {fmt('total_return_pct', ' %')}  sharpe {fmt('sharpe_ratio')}  "
          f"max drawdown {fmt('max_drawdown_pct', ' %')}  final equity {fmt('final_equity')}")
    echo(f"  trades {fmt('number_of_trades')}  win rate {fmt('win_rate_pct', ' %')}  "
          f"profit factor {fmt('profit_factor')}  exposure {fmt('exposure_pct', ' %')}")
    echo(f"  volatility regime {doc['volatility_regime'] or 'n/a'}; full run: tradeboard backtest ... --json")
