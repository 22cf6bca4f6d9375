"""`tradeboard import ENTITY FILE` through click's CliRunner on SQLite and PostgreSQL: the sample
files of examples/ make a whole book (positions and closed trades derived from its fills); a
second import changes nothing; a bad file writes nothing and names every bad line; Parquet reads
like CSV; --dry-run writes nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from data_access.db import make_engine
from data_access.models import ClosedTrade, Execution, PaperSignal, Position
from tests.app.test_cli_backtests import cli, env, make_env  # noqa: F401 - fixture

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ORDER = ("accounts", "account-snapshots", "strategies", "signals", "executions", "paper-accounts", "paper-trades",
         "paper-signals", "bars")


def example(entity: str) -> Path:
    (path,) = EXAMPLES.glob(f"{entity}.*")
    return path


def rows(url: str, query):
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(query).all()
    engine.dispose()
    return found


@pytest.fixture(params=["sqlite", "postgres"])
def book_env(request, redis_url):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    return make_env(url, redis_url)


def test_the_example_files_import_into_a_whole_book_and_again_change_nothing(book_env):
    url = book_env["DATABASE_URL"]
    for entity in ORDER:
        result = cli(book_env, "import", entity, example(entity))
        assert result.exit_code == 0, result.output
        assert " 0 updated, 0 unchanged" in result.output
    again = cli(book_env, "import", "executions", example("executions"))
    assert "0 inserted, 0 updated, 4 unchanged" in again.output
    # AAPL: bought 70 @ 243.12 and 30 @ 243.15 (fees 0.35, 0.15), sold 60 @ 244.60 (fee 0.30): FIFO closes 60 of
    # the first lot (entry fee 0.35 * 60/70) and leaves 10 + 30 open
    (trade,) = rows(url, select(ClosedTrade.symbol, ClosedTrade.quantity, ClosedTrade.realized_pnl))
    assert trade.symbol == "AAPL" and trade.quantity == 60
    assert trade.realized_pnl == pytest.approx(60 * (244.60 - 243.12) - 0.35 * 60 / 70 - 0.30)
    positions = dict(rows(url, select(Position.symbol, Position.quantity)))
    assert positions == {"AAPL": 40, "BTC-USD": -0.5}
    linked = rows(url, select(PaperSignal.external_id).where(PaperSignal.paper_trade_id.is_not(None)))
    assert sorted(r[0] for r in linked) == ["ps_9001", "ps_9002"]


def test_a_bad_file_writes_nothing_and_names_every_bad_line(env, tmp_path):
    for entity in ("accounts", "strategies", "signals"):
        cli(env, "import", entity, example(entity))
    bad = tmp_path / "executions.csv"
    lines = example("executions").read_text().splitlines()
    lines[2] = lines[2].replace("243.15", "-1")  # line 3
    lines[4] = lines[4].replace("sig_1764869400_0004", "sig_unknown")  # line 5
    bad.write_text("\n".join(lines) + "\n")
    errors = tmp_path / "errors.csv"
    result = cli(env, "import", "executions", bad, "--errors", errors)
    assert result.exit_code == 1
    assert "line 3: avg_fill_price" in result.output and "line 5: signal_id" in result.output
    listed = pd.read_csv(errors)
    assert sorted(listed["line"]) == [3, 5]
    assert rows(env["DATABASE_URL"], select(func.count()).select_from(Execution)) == [(0,)]


def test_parquet_reads_like_csv_and_a_dry_run_writes_nothing(env, tmp_path):
    for entity in ("accounts", "strategies", "signals"):
        cli(env, "import", entity, example(entity))
    parquet = tmp_path / "executions.parquet"
    frame = pd.read_csv(example("executions"))
    frame["filled_at"] = pd.to_datetime(frame["filled_at"], utc=True)
    frame.to_parquet(parquet)
    dry = cli(env, "import", "executions", parquet, "--dry-run")
    assert dry.exit_code == 0 and "4 inserted" in dry.output and "nothing would be written" in dry.output
    assert rows(env["DATABASE_URL"], select(func.count()).select_from(Execution)) == [(0,)]
    assert cli(env, "import", "executions", parquet).exit_code == 0
    assert "4 unchanged" in cli(env, "import", "executions", example("executions")).output


def test_the_import_command_offers_every_entity_and_the_document_names_keys_as_senders_do():
    from app.cli.ingest import ENTITY_NAMES
    from app.openapi import document
    from data_access.ingest import ENTITIES

    assert ENTITY_NAMES == tuple(ENTITIES)
    schemas = document()["components"]["schemas"]
    for entity in ENTITIES.values():
        fields = {f.name for f in entity.fields}
        assert set(entity.key_fields) <= fields, entity.name  # a sender finds each key field in the row
        row = schemas["Ingest" + "".join(p.title() for p in entity.name.split("-")) + "Row"]
        assert f"({', '.join(entity.key_fields)})" in row["description"]
