"""OHLCV bars: the engine's input, validated once (`make_bars`, `Bars.from_frame`, `as_bars`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.backtest.errors import InvalidBars


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
