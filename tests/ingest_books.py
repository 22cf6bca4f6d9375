"""Small books written through the ingest writer, for tests that need real rows behind a dashboard."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_access.ingest import Writer, ingest
from data_access.ingest.parse import Parsed


def parsed(rows: list[dict]) -> Parsed:
    """Rows as the ingest writer takes them (every value as sent, numbered from line 1)."""
    frame = pd.DataFrame(rows).astype(object)
    return Parsed(frame, np.arange(1, len(frame) + 1))


def with_strategies(engine, names: tuple[str, ...] = ("Alpha", "Beta")) -> None:
    """One account, "Main", and the strategies ``names`` in it (ids 1, 2, ... in that order)."""
    ingest(engine, "accounts", parsed([{"account_name": "Main", "broker": "IBKR", "net_contributions": 1e6}]),
           Writer("admin"))
    ingest(engine, "strategies", parsed([{"strategy_name": n, "account_name": "Main", "allocation": 1 / len(names)}
                                         for n in names]), Writer("admin"))
