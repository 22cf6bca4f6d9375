"""The engine's errors: bad input, with a message saying what is wrong and what is valid."""

from __future__ import annotations


class BacktestError(ValueError):
    """Bad input to the engine; the message says what is wrong and what is valid."""


class UnknownStrategy(BacktestError):
    pass


class InvalidParameters(BacktestError):
    pass


class InvalidBars(BacktestError):
    pass
