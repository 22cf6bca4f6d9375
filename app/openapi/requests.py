"""The request bodies of POST /api/v1/backtests and POST /api/v1/playback/live, one schema per
strategy kind drawn from the engine's parameter registry (analytics.backtest.STRATEGIES), so the
ranges the document states are the ranges the validation enforces.

What JSON Schema cannot say is in the descriptions and answered with a 400 naming the problem: a
symbol needs stored bars at the timeframe, ``start`` must come before ``end``, and a kind's rule
between parameters (an SMA's fast window below its slow one, RSI's lower level below its upper).
"""

from __future__ import annotations

from typing import Any

from app.openapi.json_schema import arr, obj, ref

SYMBOL = {"type": "string", "minLength": 1, "maxLength": 32, "pattern": r"^\S+$",
          "description": "case-insensitive; needs stored bars at the timeframe (otherwise a 400 listing the "
                         "symbols that have them)"}
DAY = {"type": ["string", "null"], "format": "date"}
RULES = {"sma_cross": "fast must be less than slow", "rsi_reversion": "lower must be less than upper"}


def _camel(kind: str) -> str:
    return "".join(part.title() for part in kind.split("_"))


def _value(param) -> dict[str, Any]:
    if param.type == "bool":
        schema: dict[str, Any] = {"type": "boolean"}
    else:
        schema = {"type": "integer" if param.type == "int" else "number", "minimum": param.min,
                  "maximum": param.max}
    return {**schema, "default": param.default, "description": param.description}


def _window(timeframes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "timeframe": {"type": "string", "enum": list(timeframes), "default": "1d"},
        "start": {**DAY, "description": "first day of the window (default: the first stored bar); before `end`, "
                                        "otherwise a 400"},
        "end": {**DAY, "description": "last day of the window (default: the last stored bar)"},
    }


def _backtest_request(kind, timeframes) -> dict[str, Any]:
    one_or_many = {p.name: {"oneOf": [_value(p), arr(_value(p), minItems=1, maxItems=1000)]} for p in kind.params}
    rule = f" {RULES[kind.name]}: a combination breaking it is skipped (listed in `skipped`); none left is a 400." \
        if kind.name in RULES else ""
    schema = obj({
        "strategy": {"type": "string", "const": kind.name},
        "params": obj(one_or_many, optional=tuple(one_or_many),
                      description=f"{kind.label}: a value or a list of values per parameter (a sweep over every "
                                  f"combination); left out: its default.{rule}"),
        "symbol": SYMBOL,
        "symbols": arr(SYMBOL, minItems=1, maxItems=50),
        **_window(timeframes),
        "cash": {"type": "number", "exclusiveMinimum": 0, "default": 100_000},
        "commission_bps": {"type": "number", "minimum": 0, "default": 0},
        "slippage_bps": {"type": "number", "minimum": 0, "default": 0},
    }, optional=("params", "symbol", "symbols", "timeframe", "start", "end", "cash", "commission_bps",
                 "slippage_bps"),
        description=f"{kind.label} over `symbol` or `symbols` (one of them is required). Every combination of "
                    "the listed values x symbols is a run; at most 1000 runs, otherwise a 400.")
    schema["anyOf"] = [{"required": ["symbol"]}, {"required": ["symbols"]}]
    return schema


def _live_request(kind, timeframes, max_cash: float) -> dict[str, Any]:
    params = {p.name: _value(p) for p in kind.params}
    rule = f" {RULES[kind.name]}, otherwise a 400." if kind.name in RULES else ""
    return obj({
        "strategy": {"type": "string", "const": kind.name},
        "kind": {"type": "string", "const": kind.name, "deprecated": True, "description": "alias of strategy"},
        "symbol": SYMBOL,
        "params": obj(params, optional=tuple(params),
                      description=f"{kind.label}: one value per parameter; left out: its default.{rule}"),
        "cash": {"type": "number", "exclusiveMinimum": 0, "maximum": max_cash, "default": 100_000},
        **_window(timeframes),
        "bars_per_second": {"type": "number", "minimum": 0, "default": 0,
                            "description": "pace of the stream; 0: as fast as the worker computes"},
    }, optional=("kind", "params", "cash", "timeframe", "start", "end", "bars_per_second"),
        description=f"A live {kind.label} run over one symbol's stored bars.")


def _by_strategy(branches: dict[str, str], description: str) -> dict[str, Any]:
    return {"oneOf": [ref(schema) for schema in branches.values()], "description": description,
            "discriminator": {"propertyName": "strategy",
                              "mapping": {kind: f"#/components/schemas/{schema}" for kind, schema in branches.items()}}}


def request_schemas() -> dict[str, Any]:
    from analytics.backtest import STRATEGIES
    from data_access.bars_import import TIMEFRAMES
    from data_access.playback import MAX_CASH

    out: dict[str, Any] = {}
    backtests, lives = {}, {}
    for kind in STRATEGIES.values():
        backtests[kind.name] = f"BacktestRequest{_camel(kind.name)}"
        lives[kind.name] = f"LiveRequest{_camel(kind.name)}"
        out[backtests[kind.name]] = _backtest_request(kind, TIMEFRAMES)
        out[lives[kind.name]] = _live_request(kind, TIMEFRAMES, MAX_CASH)
    out["BacktestRequest"] = _by_strategy(backtests, "One run or a sweep, by strategy kind (`strategy`).")
    out["LiveRequest"] = _by_strategy(lives, "A live run, by strategy kind (`strategy`).")
    return out
