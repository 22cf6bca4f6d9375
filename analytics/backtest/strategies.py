"""The strategy registry: each strategy kind, its parameters (as forms and heatmap axes need them) and
the vectorised target positions it wants after each bar's close (+1 long, -1 short, 0 flat)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics import indicators
from analytics.backtest.bars import Bars, as_bars
from analytics.backtest.errors import InvalidParameters, UnknownStrategy

LONG, FLAT, SHORT = 1, 0, -1


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
    targets: Callable[[Bars, list[dict]], np.ndarray]  # of several parameter sets at once: sets x bars
    check: Callable[[dict], str | None] = lambda params: None

    def target_positions(self, bars: Bars, params: dict) -> np.ndarray:
        return self.targets(bars, [params])[0]

    def schema(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "label": self.label,
            "description": self.description,
            "params": [p.to_dict() for p in self.params],
        }

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def _column(sets: list[dict], name: str) -> np.ndarray:
    """One parameter's value in each set of the batch, as a column (one row per set)."""
    return np.array([p[name] for p in sets])[:, np.newaxis]


def _stacked(sets: list[dict], indicator: Callable[[dict], np.ndarray]) -> np.ndarray:
    """Each set's indicator series, one row per set (a view of the memoised series for one set)."""
    if len(sets) == 1:
        return indicator(sets[0])[np.newaxis]
    return np.stack([indicator(p) for p in sets])


def _opposite(sets: list[dict]) -> np.ndarray:
    """What each set does on the opposite signal: short if it may, else flat."""
    return np.where(_column(sets, "allow_short"), SHORT, FLAT)


_UNDECIDED = 2  # neither LONG, FLAT nor SHORT


def _decide(*rules: tuple[np.ndarray, Any]) -> np.ndarray:
    """Decisions from (where, position) rules, a later rule winning where two apply."""
    events = np.full(rules[0][0].shape, _UNDECIDED, dtype=np.int8)
    for where, position in rules:
        np.copyto(events, position, where=where)
    return events


def _hold_last_event(events: np.ndarray) -> np.ndarray:
    """Carry each decision forward along its row until the next one; flat before the first.
    ``events`` (rows x bars, C order) is overwritten."""
    first = events[:, 0]
    first[first == _UNDECIDED] = FLAT  # every row then starts with a decision: none carries over from the row above
    flat = events.ravel()
    at = np.flatnonzero(flat != _UNDECIDED)
    return np.repeat(flat[at], np.diff(at, append=flat.size)).reshape(events.shape)


def _crosses(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where ``a`` crosses above ``b`` (``a[t-1] < b[t-1] and a[t] > b[t]``) and where below (the
    mirror), along each row. Never at t = 0 or where either is NaN."""
    below, above = a < b, a > b
    up, down = np.zeros_like(below), np.zeros_like(below)
    up[:, 1:] = below[:, :-1] & above[:, 1:]
    down[:, 1:] = above[:, :-1] & below[:, 1:]
    return up, down


def _previous(values: np.ndarray) -> np.ndarray:
    """Each row's value of the bar before, at every bar (NaN at the first)."""
    out = np.empty_like(values)
    out[:, 0] = np.nan
    out[:, 1:] = values[:, :-1]
    return out


def _sma(bars: Bars, window: int) -> np.ndarray:
    sums = bars.memo(("running sums",), lambda: indicators.running_sums(bars.close))
    return bars.memo(("sma", window), lambda: indicators.window_mean(sums, window))


def _sma_cross(bars: Bars, sets: list[dict]) -> np.ndarray:
    fast = _stacked(sets, lambda p: _sma(bars, p["fast"]))
    up, down = _crosses(fast, _stacked(sets, lambda p: _sma(bars, p["slow"])))
    return _hold_last_event(_decide((up, LONG), (down, _opposite(sets))))


def _rsi_reversion(bars: Bars, sets: list[dict]) -> np.ndarray:
    rsi = _stacked(sets, lambda p: bars.memo(("rsi", p["period"]), lambda: indicators.rsi(bars.close, p["period"])))
    oversold, overbought = rsi < _column(sets, "lower"), rsi > _column(sets, "upper")
    return _hold_last_event(_decide((oversold, LONG), (overbought, _opposite(sets))))


def _donchian_breakout(bars: Bars, sets: list[dict]) -> np.ndarray:
    def channel(p: dict) -> indicators.Bands:
        window = p["window"]
        return bars.memo(("donchian", window), lambda: indicators.donchian_channel(bars.high, bars.low, window))

    # Break out of the channel of the *previous* `window` bars: today's bar is in today's channel.
    prior_high = _previous(_stacked(sets, lambda p: channel(p).upper))
    prior_low = _previous(_stacked(sets, lambda p: channel(p).lower))
    return _hold_last_event(_decide((bars.close > prior_high, LONG), (bars.close < prior_low, _opposite(sets))))


def _bollinger_reversion(bars: Bars, sets: list[dict]) -> np.ndarray:
    def bands(p: dict) -> indicators.Bands:
        window, k = p["window"], p["k"]
        return bars.memo(("bollinger", window, k), lambda: indicators.bollinger_bands(bars.close, window, k))

    close = bars.close
    middle = _stacked(sets, lambda p: bands(p).middle)
    # Exit when the close gets back to the middle band; the first close on the other side of the
    # middle after an entry is always a crossing, since entries happen outside the bands.
    back_to_middle = np.zeros(middle.shape, dtype=bool)
    back_to_middle[:, 1:] = ((close[:-1] < middle[:, :-1]) & (close[1:] >= middle[:, 1:])) | (
        (close[:-1] > middle[:, :-1]) & (close[1:] <= middle[:, 1:])
    )
    below = close < _stacked(sets, lambda p: bands(p).lower)
    above = (close > _stacked(sets, lambda p: bands(p).upper)) & _column(sets, "allow_short")
    return _hold_last_event(_decide((back_to_middle, FLAT), (below, LONG), (above, SHORT)))


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
