"""A bar-based backtest engine following the conventions of ``shared/METRICS.md``.

- A strategy decides on the close of bar t from bars up to t only (its *target position*:
  +1 long, -1 short, 0 flat). A change of target is a market order that fills at the open of
  bar t+1. A decision on the last bar has no next bar and is dropped.
- Orders are sized in whole units: ``floor(equity * fraction / fill price)``, where equity is the
  cash after any position being replaced has been closed. Too little equity for one unit: no
  position until the next change of target.
- Slippage (bps) moves each fill price against the trader; commission (bps) is charged on each
  fill's notional and is part of the trade's PnL.
- Equity is marked at every bar's close. A position still open after the last bar is closed at
  that bar's close (with costs) and marked ``closed_at_end``.

``run`` returns the whole result; ``stream`` yields one event per bar for live playback. They
share the strategy's target positions (vectorised; proven free of look-ahead by the tests) and
simulate the book independently: ``run`` trade by trade, ``stream`` bar by bar.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics import indicators
from analytics.metrics import PERIODS_PER_YEAR, performance_summary, trade_summary

LONG, FLAT, SHORT = 1, 0, -1
SIDE_NAMES = {LONG: "long", SHORT: "short"}


class BacktestError(ValueError):
    """Bad input to the engine; the message says what is wrong and what is valid."""


class UnknownStrategy(BacktestError):
    pass


class InvalidParameters(BacktestError):
    pass


class InvalidBars(BacktestError):
    pass


# --------------------------------------------------------------------------- bars


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLCV bars in time order. ``time`` is UTC ``datetime64[ns]``; prices are float arrays."""

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    _memo: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.close.size)

    def __getitem__(self, window: slice) -> Bars:
        if not isinstance(window, slice):
            raise TypeError("bars can only be sliced")
        return Bars(*(getattr(self, name)[window] for name in _COLUMNS))

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """An indicator computed once per bar set (a sweep reuses each moving average)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({name: getattr(self, name) for name in _COLUMNS[1:]})
        frame.index = pd.DatetimeIndex(self.time, name="time")
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Bars:
        """Bars from a frame with a time index or a ``time``/``timestamp``/``date``/``datetime``
        column and open/high/low/close[/volume] columns in any letter case."""
        columns = {str(c).lower(): c for c in frame.columns}
        time_column = next((columns[c] for c in _TIME_COLUMNS if c in columns), None)
        if time_column is not None:
            times = pd.to_datetime(frame[time_column], utc=True)
        elif isinstance(frame.index, pd.DatetimeIndex):
            times = frame.index.tz_localize("UTC") if frame.index.tz is None else frame.index.tz_convert("UTC")
        else:
            raise InvalidBars(f"bars need a time index or one of the columns {', '.join(_TIME_COLUMNS)}")
        missing = [c for c in ("open", "high", "low", "close") if c not in columns]
        if missing:
            raise InvalidBars(f"bars are missing the column(s) {', '.join(missing)}")
        values = {c: frame[columns[c]].to_numpy(dtype=float) for c in ("open", "high", "low", "close")}
        values["volume"] = (
            frame[columns["volume"]].to_numpy(dtype=float) if "volume" in columns else np.zeros(len(frame))
        )
        time = pd.DatetimeIndex(times).tz_localize(None).to_numpy(dtype="datetime64[ns]")
        return make_bars(time=time, **values)


_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_TIME_COLUMNS = ("time", "timestamp", "datetime", "date")


def make_bars(*, time: Any, open: Any, high: Any, low: Any, close: Any, volume: Any = None) -> Bars:
    """Validated bars from arrays: strictly increasing times and valid, positive OHLC."""
    arrays = {name: np.asarray(v, dtype=float) for name, v in (("open", open), ("high", high), ("low", low), ("close", close))}
    n = arrays["close"].size
    arrays["volume"] = np.zeros(n) if volume is None else np.asarray(volume, dtype=float)
    times = np.asarray(pd.to_datetime(np.asarray(time)), dtype="datetime64[ns]")
    if n == 0:
        raise InvalidBars("no bars")
    if any(a.ndim != 1 or a.size != n for a in arrays.values()) or times.shape != (n,):
        raise InvalidBars("time, open, high, low, close and volume must be 1-D and of the same length")
    problems = []
    for name in ("open", "high", "low", "close"):
        bad = ~(np.isfinite(arrays[name]) & (arrays[name] > 0))
        if bad.any():
            problems.append(f"{name} is not a positive number at bar(s) {_first_indices(bad)}")
    if not problems:
        body_high = np.maximum(arrays["open"], arrays["close"])
        body_low = np.minimum(arrays["open"], arrays["close"])
        if (bad := arrays["high"] < body_high).any():
            problems.append(f"high is below open or close at bar(s) {_first_indices(bad)}")
        if (bad := arrays["low"] > body_low).any():
            problems.append(f"low is above open or close at bar(s) {_first_indices(bad)}")
    if (bad := ~(np.isfinite(arrays["volume"]) & (arrays["volume"] >= 0))).any():
        problems.append(f"volume is negative or missing at bar(s) {_first_indices(bad)}")
    if np.isnat(times).any():
        problems.append(f"time is missing at bar(s) {_first_indices(np.isnat(times))}")
    elif n > 1 and (bad := np.diff(times) <= np.timedelta64(0, "ns")).any():
        problems.append(f"times are not strictly increasing at bar(s) {_first_indices(np.r_[False, bad])}")
    if problems:
        raise InvalidBars("; ".join(problems))
    return Bars(time=times, **arrays)


def _first_indices(mask: np.ndarray, limit: int = 5) -> str:
    where = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in where[:limit])
    return shown + (f" and {where.size - limit} more" if where.size > limit else "")


def as_bars(data: Bars | pd.DataFrame) -> Bars:
    if isinstance(data, Bars):
        return data
    if isinstance(data, pd.DataFrame):
        return Bars.from_frame(data)
    raise InvalidBars(f"expected Bars or a pandas DataFrame of OHLCV bars, got {type(data).__name__}")


# --------------------------------------------------------------------------- strategy registry


@dataclass(frozen=True)
class Param:
    """One strategy parameter, as a form field or a heatmap axis needs it."""

    name: str
    type: str  # "int" | "float" | "bool"
    default: Any
    min: float | None = None
    max: float | None = None
    step: float | None = None
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "description": self.description,
        }

    def coerce(self, value: Any) -> Any:
        """The value as this parameter's type, or a ValueError saying what is accepted."""
        if self.type == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError(f"{self.name} must be true or false, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name} must be a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"{self.name} must be a finite number, got {value!r}")
        if self.type == "int":
            if number != int(number):
                raise ValueError(f"{self.name} must be a whole number, got {value!r}")
            number = int(number)
        if not self.min <= number <= self.max:
            raise ValueError(f"{self.name} must be between {self.min} and {self.max}, got {value!r}")
        return number


@dataclass(frozen=True)
class StrategyKind:
    name: str
    label: str
    description: str
    params: tuple[Param, ...]
    target_positions: Callable[[Bars, dict], np.ndarray]
    check: Callable[[dict], str | None] = lambda params: None

    def schema(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "label": self.label,
            "description": self.description,
            "params": [p.to_dict() for p in self.params],
        }

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def _hold_last_event(events: np.ndarray) -> np.ndarray:
    """Carry each decision (non-NaN) forward until the next one; flat before the first."""
    positions = np.arange(events.size)
    last = np.maximum.accumulate(np.where(np.isnan(events), 0, positions))
    held = events[last]
    held[np.isnan(held)] = FLAT
    return held.astype(np.int8)


def _cross_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """True at t when ``a[t-1] < b[t-1] and a[t] > b[t]`` (never at t = 0 or where either is NaN)."""
    out = np.zeros(a.size, dtype=bool)
    out[1:] = (a[:-1] < b[:-1]) & (a[1:] > b[1:])
    return out


def _sma(bars: Bars, window: int) -> np.ndarray:
    return bars.memo(("sma", window), lambda: indicators.sma(bars.close, window))


def _sma_cross(bars: Bars, p: dict) -> np.ndarray:
    fast, slow = _sma(bars, p["fast"]), _sma(bars, p["slow"])
    events = np.full(len(bars), np.nan)
    events[_cross_above(fast, slow)] = LONG
    events[_cross_above(slow, fast)] = SHORT if p["allow_short"] else FLAT
    return _hold_last_event(events)


def _rsi_reversion(bars: Bars, p: dict) -> np.ndarray:
    rsi = bars.memo(("rsi", p["period"]), lambda: indicators.rsi(bars.close, p["period"]))
    events = np.full(len(bars), np.nan)
    events[rsi < p["lower"]] = LONG
    events[rsi > p["upper"]] = SHORT if p["allow_short"] else FLAT
    return _hold_last_event(events)


def _donchian_breakout(bars: Bars, p: dict) -> np.ndarray:
    window = p["window"]
    channel = bars.memo(("donchian", window), lambda: indicators.donchian_channel(bars.high, bars.low, window))
    # Break out of the channel of the *previous* `window` bars: today's bar is in today's channel.
    prior_high = np.r_[np.nan, channel.upper[:-1]]
    prior_low = np.r_[np.nan, channel.lower[:-1]]
    events = np.full(len(bars), np.nan)
    events[bars.close > prior_high] = LONG
    events[bars.close < prior_low] = SHORT if p["allow_short"] else FLAT
    return _hold_last_event(events)


def _bollinger_reversion(bars: Bars, p: dict) -> np.ndarray:
    window, k = p["window"], p["k"]
    bands = bars.memo(("bollinger", window, k), lambda: indicators.bollinger_bands(bars.close, window, k))
    close, middle = bars.close, bands.middle
    events = np.full(len(bars), np.nan)
    # Exit when the close gets back to the middle band; the first close on the other side of the
    # middle after an entry is always a crossing, since entries happen outside the bands.
    back_to_middle = np.zeros(close.size, dtype=bool)
    back_to_middle[1:] = ((close[:-1] < middle[:-1]) & (close[1:] >= middle[1:])) | (
        (close[:-1] > middle[:-1]) & (close[1:] <= middle[1:])
    )
    events[back_to_middle] = FLAT
    events[close < bands.lower] = LONG
    if p["allow_short"]:
        events[close > bands.upper] = SHORT
    return _hold_last_event(events)


def _fast_below_slow(p: dict) -> str | None:
    return None if p["fast"] < p["slow"] else f"fast ({p['fast']}) must be less than slow ({p['slow']})"


def _lower_below_upper(p: dict) -> str | None:
    return None if p["lower"] < p["upper"] else f"lower ({p['lower']}) must be less than upper ({p['upper']})"


def _allow_short(default: bool) -> Param:
    return Param("allow_short", "bool", default, description="go short on the opposite signal instead of flat")


STRATEGIES: dict[str, StrategyKind] = {
    kind.name: kind
    for kind in (
        StrategyKind(
            "sma_cross",
            "SMA crossover",
            "Long when the fast SMA crosses above the slow SMA; short (or flat) when it crosses below.",
            (
                Param("fast", "int", 10, 2, 200, 1, "fast SMA window, bars"),
                Param("slow", "int", 30, 3, 400, 1, "slow SMA window, bars"),
                _allow_short(True),
            ),
            _sma_cross,
            _fast_below_slow,
        ),
        StrategyKind(
            "rsi_reversion",
            "RSI mean reversion",
            "Long when RSI falls below `lower`; flat (or short) when it rises above `upper`.",
            (
                Param("period", "int", 14, 2, 100, 1, "RSI window, bars (Wilder smoothing)"),
                Param("lower", "float", 30.0, 1.0, 50.0, 1.0, "oversold level: buy below it"),
                Param("upper", "float", 70.0, 50.0, 99.0, 1.0, "overbought level: sell above it"),
                _allow_short(False),
            ),
            _rsi_reversion,
            _lower_below_upper,
        ),
        StrategyKind(
            "donchian_breakout",
            "Donchian breakout",
            "Long when the close breaks above the highest high of the previous `window` bars; "
            "short (or flat) when it breaks below the lowest low.",
            (Param("window", "int", 20, 2, 250, 1, "channel window, bars"), _allow_short(True)),
            _donchian_breakout,
        ),
        StrategyKind(
            "bollinger_reversion",
            "Bollinger mean reversion",
            "Long when the close falls below the lower band (short above the upper band if allowed); "
            "out when it gets back to the middle band.",
            (
                Param("window", "int", 20, 2, 250, 1, "band window, bars"),
                Param("k", "float", 2.0, 0.5, 4.0, 0.25, "band width, standard deviations"),
                _allow_short(False),
            ),
            _bollinger_reversion,
        ),
    )
}


def strategy_kind(kind: str) -> StrategyKind:
    try:
        return STRATEGIES[kind]
    except (KeyError, TypeError):
        raise UnknownStrategy(f"unknown strategy kind {kind!r}; valid kinds: {', '.join(STRATEGIES)}") from None


def strategy_schemas() -> list[dict[str, Any]]:
    """Every strategy kind with its parameter schema (for forms and heatmap axes)."""
    return [kind.schema() for kind in STRATEGIES.values()]


def validate_params(kind: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Complete ``params`` with defaults and coerce them to their types ("12" -> 12, "true" -> True).

    Raises InvalidParameters naming every problem and the valid parameters.
    """
    spec = strategy_kind(kind)
    given = dict(params or {})
    valid = {p.name: p for p in spec.params}
    problems = []
    unknown = sorted(set(given) - set(valid))
    if unknown:
        problems.append(f"unknown parameter(s) {', '.join(unknown)}")
    out = spec.defaults()
    for name, value in given.items():
        if name in valid:
            try:
                out[name] = valid[name].coerce(value)
            except ValueError as exc:
                problems.append(str(exc))
    if not problems and (conflict := spec.check(out)):
        problems.append(conflict)
    if problems:
        choices = ", ".join(f"{p.name} ({p.type}, {_range_text(p)})" for p in spec.params)
        raise InvalidParameters(f"{kind}: {'; '.join(problems)}. Valid parameters: {choices}")
    return out


def _range_text(p: Param) -> str:
    return "true/false" if p.type == "bool" else f"{p.min}..{p.max}"


def target_positions(bars: Bars | pd.DataFrame, kind: str, params: Mapping[str, Any] | None = None) -> np.ndarray:
    """The position (+1/0/-1) the strategy wants after each bar's close."""
    bars = as_bars(bars)
    return strategy_kind(kind).target_positions(bars, validate_params(kind, params))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Trade:
    side: str
    size: int
    entry_bar: int
    entry_time: pd.Timestamp
    entry_price: float
    exit_bar: int
    exit_time: pd.Timestamp
    exit_price: float
    pnl: float
    commission: float
    closed_at_end: bool

    @property
    def pnl_pct(self) -> float:
        """PnL as a percentage of the entry notional."""
        return self.pnl / (self.size * self.entry_price) * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "size": self.size,
            "entry_bar": self.entry_bar,
            "entry_time": _iso(self.entry_time),
            "entry_price": self.entry_price,
            "exit_bar": self.exit_bar,
            "exit_time": _iso(self.exit_time),
            "exit_price": self.exit_price,
            "pnl": self.pnl,
            "pnl_pct": self.pnl_pct,
            "commission": self.commission,
            "closed_at_end": self.closed_at_end,
        }


def _iso(t: Any) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Settings:
    cash: float = 100_000.0
    fraction: float = 1.0
    commission_bps: float = 0.0
    slippage_bps: float = 0.0
    periods_per_year: float = PERIODS_PER_YEAR
    risk_free: float = 0.0

    def __post_init__(self) -> None:
        checks = (
            (math.isfinite(self.cash) and self.cash > 0, f"cash must be positive, got {self.cash}"),
            (0 < self.fraction <= 10, f"fraction must be in (0, 10], got {self.fraction}"),
            (0 <= self.commission_bps < 10_000, f"commission_bps must be in [0, 10000), got {self.commission_bps}"),
            (0 <= self.slippage_bps < 10_000, f"slippage_bps must be in [0, 10000), got {self.slippage_bps}"),
            (self.periods_per_year > 0, f"periods_per_year must be positive, got {self.periods_per_year}"),
            (self.risk_free > -1, f"risk_free must be > -1, got {self.risk_free}"),
        )
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise BacktestError("; ".join(problems))

    def fill_price(self, price: float, direction: int) -> float:
        """The price a buy (+1) or sell (-1) gets after slippage."""
        return float(price) * (1.0 + direction * self.slippage_bps / 10_000.0)

    def commission(self, notional: float) -> float:
        return abs(float(notional)) * self.commission_bps / 10_000.0

    def size(self, equity: float, fill_price: float) -> int:
        return max(math.floor(equity * self.fraction / fill_price), 0)


@dataclass
class BacktestResult:
    kind: str
    params: dict[str, Any]
    settings: Settings
    bars: Bars
    trades: list[Trade]
    equity: np.ndarray
    metrics: dict[str, Any]

    @property
    def equity_curve(self) -> pd.Series:
        return pd.Series(self.equity, index=pd.DatetimeIndex(self.bars.time, name="time"), name="equity")

    def trades_frame(self) -> pd.DataFrame:
        return pd.DataFrame([t.to_dict() for t in self.trades], columns=list(_TRADE_COLUMNS))

    def to_dict(self, include_equity: bool = True) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "params": self.params,
            "settings": vars(self.settings).copy(),
            "start": _iso(self.bars.time[0]),
            "end": _iso(self.bars.time[-1]),
            "metrics": self.metrics,
            "trades": [t.to_dict() for t in self.trades],
        }
        if include_equity:
            times = np.datetime_as_string(self.bars.time, unit="s")
            out["equity_curve"] = [{"time": f"{t}Z", "equity": e} for t, e in zip(times.tolist(), self.equity.tolist())]
        return out


_TRADE_COLUMNS = Trade.__slots__ + ("pnl_pct",)


# --------------------------------------------------------------------------- run


def run(
    bars: Bars | pd.DataFrame,
    kind: str,
    params: Mapping[str, Any] | None = None,
    **settings: Any,
) -> BacktestResult:
    """Backtest one strategy over ``bars``. ``settings``: cash, fraction, commission_bps,
    slippage_bps, periods_per_year, risk_free (see ``Settings``)."""
    bars = as_bars(bars)
    checked = validate_params(kind, params)
    config = Settings(**settings)
    targets = STRATEGIES[kind].target_positions(bars, checked)
    trades, equity = _simulate_by_trade(bars, targets, config)
    return BacktestResult(kind, checked, config, bars, trades, equity, _run_metrics(bars, trades, equity, config))


def _order_bars(targets: np.ndarray) -> np.ndarray:
    """Bars whose open fills an order: the bar after each change of target (none after the last)."""
    changed = np.flatnonzero(np.diff(targets, prepend=FLAT) != 0)
    return changed[changed < targets.size - 1] + 1


def _simulate_by_trade(bars: Bars, targets: np.ndarray, config: Settings) -> tuple[list[Trade], np.ndarray]:
    n = len(bars)
    fills = _order_bars(targets)
    cash_after = np.empty(fills.size + 1)
    units_after = np.zeros(fills.size + 1)
    cash_after[0] = cash = config.cash
    units = 0
    entry: tuple[int, float, float] | None = None  # (bar, price, commission)
    trades: list[Trade] = []
    opens, times = bars.open, bars.time

    def close_position(bar: int, price: float, at_end: bool) -> float:
        side = 1 if units > 0 else -1
        exit_price = config.fill_price(price, -side)
        exit_fee = config.commission(units * exit_price)
        entry_bar, entry_price, entry_fee = entry
        pnl = units * (exit_price - entry_price) - entry_fee - exit_fee
        trades.append(
            Trade(SIDE_NAMES[side], abs(units), entry_bar, pd.Timestamp(times[entry_bar]), entry_price,
                  bar, pd.Timestamp(times[bar]), exit_price, pnl, entry_fee + exit_fee, at_end)
        )
        return units * exit_price - exit_fee

    for k, bar in enumerate(fills.tolist()):
        if units:
            cash += close_position(bar, opens[bar], False)
            units, entry = 0, None
        direction = int(targets[bar - 1])
        if direction:
            price = config.fill_price(opens[bar], direction)
            size = config.size(cash, price)
            if size:
                fee = config.commission(size * price)
                units = direction * size
                cash -= units * price + fee
                entry = (bar, price, fee)
        cash_after[k + 1], units_after[k + 1] = cash, units

    segment = np.searchsorted(fills, np.arange(n), side="right")
    equity = cash_after[segment] + units_after[segment] * bars.close
    if units:
        cash += close_position(n - 1, bars.close[-1], True)
        equity[-1] = cash
    return trades, equity


def _run_metrics(bars: Bars, trades: list[Trade], equity: np.ndarray, config: Settings) -> dict[str, Any]:
    pnl = np.fromiter((t.pnl for t in trades), dtype=float, count=len(trades))
    bars_in_market = sum(t.exit_bar - t.entry_bar + (1 if t.closed_at_end else 0) for t in trades)
    return {
        **performance_summary(equity, config.risk_free, config.periods_per_year),
        **trade_summary(pnl),
        "initial_cash": config.cash,
        "final_equity": float(equity[-1]),
        "total_commission": float(sum(t.commission for t in trades)),
        "exposure_pct": bars_in_market / len(bars) * 100.0,
        "bars": len(bars),
    }


# --------------------------------------------------------------------------- stream


def stream(
    bars: Bars | pd.DataFrame,
    kind: str,
    params: Mapping[str, Any] | None = None,
    **settings: Any,
) -> Iterator[dict[str, Any]]:
    """One event per bar, in order, for live playback.

    Each event: ``bar`` (index), ``time`` (ISO UTC), ``open/high/low/close/volume``, ``signals``
    (the fills on this bar: ``{"type": "entry"|"exit", "side", "price", "size"}``, exits also
    ``pnl`` and ``closed_at_end``) and ``stats``: ``trades`` (closed), ``wins``, ``losses``,
    ``pnl`` (equity - initial cash), ``equity``, ``drawdown_pct`` (below the peak close equity,
    positive), ``progress_pct``. The trades are exactly ``run``'s.
    """
    bars = as_bars(bars)
    checked = validate_params(kind, params)
    config = Settings(**settings)
    targets = STRATEGIES[kind].target_positions(bars, checked)
    return _simulate_by_bar(bars, targets, config)


def _simulate_by_bar(bars: Bars, targets: np.ndarray, config: Settings) -> Iterator[dict[str, Any]]:
    n = len(bars)
    times = [f"{t}Z" for t in np.datetime_as_string(bars.time, unit="s").tolist()]
    o, h, low, c, v = (getattr(bars, name).tolist() for name in ("open", "high", "low", "close", "volume"))
    cash, units = config.cash, 0
    entry_price = entry_fee = 0.0
    wanted = FLAT
    closed = wins = losses = 0
    peak = config.cash

    def exit_signal(price: float, at_end: bool) -> dict[str, Any]:
        nonlocal cash, units, closed, wins, losses
        side = 1 if units > 0 else -1
        exit_price = config.fill_price(price, -side)
        fee = config.commission(units * exit_price)
        pnl = units * (exit_price - entry_price) - entry_fee - fee
        cash += units * exit_price - fee
        signal = {"type": "exit", "side": SIDE_NAMES[side], "price": exit_price, "size": abs(units),
                  "pnl": pnl, "closed_at_end": at_end}
        units = 0
        closed += 1
        wins += pnl > 0
        losses += pnl < 0
        return signal

    for t in range(n):
        signals = []
        if t > 0 and targets[t - 1] != wanted:
            wanted = int(targets[t - 1])
            if units:
                signals.append(exit_signal(o[t], False))
            if wanted:
                price = config.fill_price(o[t], wanted)
                size = config.size(cash, price)
                if size:
                    entry_price, entry_fee = price, config.commission(size * price)
                    units = wanted * size
                    cash -= units * price + entry_fee
                    signals.append({"type": "entry", "side": SIDE_NAMES[wanted], "price": price, "size": size})
        if t == n - 1 and units:
            signals.append(exit_signal(c[t], True))
        equity = cash + units * c[t]
        peak = max(peak, equity)
        yield {
            "bar": t,
            "time": times[t],
            "open": o[t],
            "high": h[t],
            "low": low[t],
            "close": c[t],
            "volume": v[t],
            "signals": signals,
            "stats": {
                "trades": closed,
                "wins": wins,
                "losses": losses,
                "pnl": equity - config.cash,
                "equity": equity,
                "drawdown_pct": (1.0 - equity / peak) * 100.0 if peak > 0 else 0.0,
                "progress_pct": (t + 1) / n * 100.0,
            },
        }


# --------------------------------------------------------------------------- sweep


def parameter_grid(kind: str, grid: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every combination of ``grid`` (name -> list of values), validated.

    Returns ``(valid parameter sets, reasons for skipped combinations)``: a combination that breaks
    a constraint between parameters (fast >= slow) is skipped and reported; a value out of range
    or an unknown name is an error.
    """
    spec = strategy_kind(kind)
    params_by_name = {p.name: p for p in spec.params}
    unknown = sorted(set(grid) - set(params_by_name))
    if unknown:
        validate_params(kind, dict.fromkeys(unknown))  # raises, naming them and the valid parameters
    axes = {}
    for name, values in grid.items():
        values = list(values) if isinstance(values, (list, tuple, range, np.ndarray)) else [values]
        if not values:
            raise InvalidParameters(f"{kind}: every grid axis needs at least one value ({name} has none)")
        try:
            axes[name] = [params_by_name[name].coerce(v) for v in values]
        except ValueError as exc:
            raise InvalidParameters(f"{kind}: {exc}") from None
    valid, skipped = [], []
    for combo in itertools.product(*axes.values()):
        params = {**spec.defaults(), **dict(zip(axes, combo))}
        conflict = spec.check(params)
        if conflict:
            skipped.append(f"{dict(zip(axes, combo))}: {conflict}")
        else:
            valid.append(params)
    return valid, skipped


def sweep(bars: Bars | pd.DataFrame, kind: str, grid: Mapping[str, Any], **settings: Any) -> pd.DataFrame:
    """Run every valid combination of ``grid`` over the same bars; one row per run with its
    parameters and metrics. Indicators are computed once per distinct window."""
    bars = as_bars(bars)
    config = Settings(**settings)
    param_sets, _ = parameter_grid(kind, grid)
    rows = []
    for params in param_sets:
        targets = STRATEGIES[kind].target_positions(bars, params)
        trades, equity = _simulate_by_trade(bars, targets, config)
        rows.append({**params, **_run_metrics(bars, trades, equity, config)})
    return pd.DataFrame(rows)
