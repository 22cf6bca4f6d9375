"""The demo seeder's historical import path; the seeder lives in ``data_access.demo``."""

from data_access.backtest_store import config_key
from data_access.demo import (
    BACKTEST_GRIDS,
    DEVELOPERS,
    REJECT_REASONS,
    SCALES,
    STRATEGIES,
    DatabaseNotEmpty,
    SchemaMissing,
    refresh_planner_statistics,
    seed,
)

__all__ = ["BACKTEST_GRIDS", "DEVELOPERS", "REJECT_REASONS", "SCALES", "STRATEGIES", "DatabaseNotEmpty",
           "SchemaMissing", "config_key", "refresh_planner_statistics", "seed"]
