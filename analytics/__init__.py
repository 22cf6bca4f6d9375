"""Pure computation for tradeboard: metrics, indicators and the backtest engine.

Nothing here touches Flask, Dash, SQL or Redis: every function takes numbers (numpy arrays,
pandas objects, lists) and returns numbers, so it reads the same in a notebook as in the app.
"""

from analytics import backtest, indicators, metrics

__all__ = ["backtest", "indicators", "metrics"]
