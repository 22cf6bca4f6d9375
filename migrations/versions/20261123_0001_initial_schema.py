"""Initial schema: people and access, the fund, paper trading, market data and backtests.

A frozen copy of ``data_access/models.py`` at the time of writing (migrations never import the
models). Portable: runs unchanged on SQLite and PostgreSQL. Enums are stored as VARCHAR with a
CHECK constraint (``native_enum=False``), so no PostgreSQL enum types are created or dropped.
Constraints carry explicit names so later migrations (SQLite batch mode included) can address
them; the CHECK constraints keep the names the models give them (the enum's name).

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    # ------------------------------------------------------------------ people and access
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", _enum("role", "admin", "analyst", "client", "developer"), nullable=False),
        sa.Column("account_scope", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        _created_at(),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_sha256", name="uq_api_tokens_token_sha256"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])

    # ------------------------------------------------------------------ the fund
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("broker", sa.String(length=64), nullable=False),
        sa.Column("net_contributions", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
    )
    op.create_table(
        "account_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("equity", sa.Float(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("margin_used", sa.Float(), nullable=False),
        sa.Column("margin_available", sa.Float(), nullable=False),
        sa.Column("unrealized_pnl", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_account_snapshots_account_id_accounts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_account_snapshots"),
        sa.UniqueConstraint("account_id", "date", name="uq_account_snapshots_account_id_date"),
    )
    op.create_index("ix_account_snapshots_date", "account_snapshots", ["date"])

    op.create_table(
        "strategies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("developer_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("allocation", sa.Float(), nullable=False),
        sa.Column("status", _enum("strategy_status", "ACTIVE", "PAUSED", "RETIRED"), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["developer_id"], ["users.id"], name="fk_strategies_developer_id_users", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_strategies_account_id_accounts", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_strategies"),
        sa.UniqueConstraint("name", name="uq_strategies_name"),
    )
    op.create_index("ix_strategies_developer_id", "strategies", ["developer_id"])
    op.create_index("ix_strategies_account_id", "strategies", ["account_id"])

    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.String(length=64), nullable=False),
        sa.Column("strategy_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", _enum("side", "BUY", "SELL"), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("status", _enum("signal_status", "FILLED", "REJECTED", "CANCELLED", "PENDING"), nullable=False),
        sa.Column("reject_reason", sa.String(length=128), nullable=True),
        sa.Column("filled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name="fk_signals_strategy_id_strategies", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signals"),
        sa.UniqueConstraint("signal_id", name="uq_signals_signal_id"),
    )
    op.create_index("ix_signals_strategy_received", "signals", ["strategy_id", "received_at"])
    op.create_index("ix_signals_received", "signals", ["received_at"])
    op.create_index("ix_signals_strategy_status", "signals", ["strategy_id", "status"])

    op.create_table(
        "executions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("filled_at", sa.DateTime(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("commission", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name="fk_executions_signal_id_signals", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    op.create_index("ix_executions_signal", "executions", ["signal_id"])
    op.create_index("ix_executions_filled", "executions", ["filled_at"])

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("strategy_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("entry_price", sa.Float(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name="fk_positions_strategy_id_strategies", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_positions_account_id_accounts", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_positions"),
        sa.UniqueConstraint("strategy_id", "symbol", name="uq_positions_strategy_id_symbol"),
    )
    op.create_index("ix_positions_account_id", "positions", ["account_id"])

    op.create_table(
        "closed_trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("strategy_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("entry_price", sa.Float(), nullable=False),
        sa.Column("exit_price", sa.Float(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.Column("commission", sa.Float(), nullable=False),
        sa.Column("realized_pnl", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id"], ["strategies.id"], name="fk_closed_trades_strategy_id_strategies", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_closed_trades_account_id_accounts", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_closed_trades"),
    )
    op.create_index("ix_closed_trades_strategy_closed", "closed_trades", ["strategy_id", "closed_at"])

    # ------------------------------------------------------------------ paper trading
    op.create_table(
        "paper_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("starting_cash", sa.Float(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_paper_accounts"),
        sa.UniqueConstraint("name", name="uq_paper_accounts_name"),
    )
    op.create_table(
        "paper_trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_account_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("entry_price", sa.Float(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("exit_price", sa.Float(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("realized_pnl", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["paper_account_id"],
            ["paper_accounts.id"],
            name="fk_paper_trades_paper_account_id_paper_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_paper_trades"),
    )
    op.create_index("ix_paper_trades_account_status", "paper_trades", ["paper_account_id", "status"])
    op.create_index("ix_paper_trades_closed", "paper_trades", ["closed_at"])

    # ------------------------------------------------------------------ market data and backtests
    op.create_table(
        "bars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bars"),
        sa.UniqueConstraint("symbol", "timeframe", "time", name="uq_bars_symbol_timeframe_time"),
    )
    op.create_table(
        "backtest_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("strategy_kind", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("config_key", sa.String(length=256), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("status", _enum("run_status", "PENDING", "RUNNING", "COMPLETED", "FAILED"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _created_at(),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("total_return_pct", sa.Float(), nullable=True),
        sa.Column("sharpe_ratio", sa.Float(), nullable=True),
        sa.Column("max_drawdown_pct", sa.Float(), nullable=True),
        sa.Column("win_rate_pct", sa.Float(), nullable=True),
        sa.Column("number_of_trades", sa.Integer(), nullable=True),
        sa.Column("underlying_volatility_pct", sa.Float(), nullable=True),
        sa.Column("volatility_regime", sa.String(length=8), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_runs"),
    )
    op.create_index("ix_backtest_runs_status_completed", "backtest_runs", ["status", "completed_at"])
    op.create_index("ix_backtest_runs_kind_completed", "backtest_runs", ["strategy_kind", "completed_at"])
    op.create_index("ix_backtest_runs_symbol", "backtest_runs", ["symbol"])

    op.create_table(
        "backtest_trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("entry_time", sa.DateTime(), nullable=False),
        sa.Column("entry_price", sa.Float(), nullable=False),
        sa.Column("exit_time", sa.DateTime(), nullable=False),
        sa.Column("exit_price", sa.Float(), nullable=False),
        sa.Column("pnl", sa.Float(), nullable=False),
        sa.Column("commission", sa.Float(), nullable=False),
        sa.Column("closed_at_end", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["backtest_runs.id"], name="fk_backtest_trades_run_id_backtest_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_trades"),
    )
    op.create_index("ix_backtest_trades_run", "backtest_trades", ["run_id"])

    op.create_table(
        "backtest_equity_curves",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("times", sa.JSON(), nullable=False),
        sa.Column("equity", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["backtest_runs.id"],
            name="fk_backtest_equity_curves_run_id_backtest_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_backtest_equity_curves"),
    )


def downgrade() -> None:
    # Children before parents; a table's indexes go with it.
    for table in (
        "backtest_equity_curves",
        "backtest_trades",
        "backtest_runs",
        "bars",
        "paper_trades",
        "paper_accounts",
        "closed_trades",
        "positions",
        "executions",
        "signals",
        "strategies",
        "account_snapshots",
        "accounts",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
