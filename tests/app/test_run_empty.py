"""An empty start: `tradeboard run --no-demo` (or TRADEBOARD_DEMO=false) migrates, creates its admin and
seeds nothing; the demo book goes only into an empty database, and only when asked for."""

from __future__ import annotations

import os
import re
import signal
import subprocess

import pytest
from sqlalchemy import create_engine, func, select

from app.cli.run import prepare_database, seeds_demo
from app.config import Settings
from app.services import free_port
from data_access.models import Account, Signal, User
from tests.app.test_run_e2e import (SERVICE_VARIABLES, START_TIMEOUT, STOP_TIMEOUT, Output, RunningTradeboard,
                                    _tradeboard_command)


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {model.__tablename__: conn.scalar(select(func.count()).select_from(model))
                    for model in (Account, Signal, User)}
    finally:
        engine.dispose()


@pytest.mark.parametrize(("empty", "flag", "setting", "seeded"), [
    (True, None, True, True),      # a first start seeds the demo book by default
    (True, None, False, False),    # TRADEBOARD_DEMO=false
    (True, False, True, False),    # --no-demo
    (True, True, False, True),     # --demo wins over the setting
    (False, True, True, False),    # never into a database that holds anything (a book, or just its admin)
])
def test_the_demo_book_is_seeded_only_into_an_empty_database_and_only_when_asked(empty, flag, setting, seeded):
    assert seeds_demo(empty, flag, Settings(TRADEBOARD_DEMO=setting)) is seeded


def test_trade_board_demo_reads_false_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRADEBOARD_DEMO", "false")
    assert Settings.from_env().TRADEBOARD_DEMO is False
    monkeypatch.setenv("TRADEBOARD_DEMO", "maybe")
    with pytest.raises(ValueError, match="TRADEBOARD_DEMO must be true or false"):
        Settings.from_env()


def test_preparing_an_empty_database_without_the_demo_migrates_it_and_writes_no_book(sqlite_url):
    assert prepare_database(sqlite_url, False, Settings(DATABASE_URL=sqlite_url)) is False
    assert counts(sqlite_url) == {"accounts": 0, "signals": 0, "users": 0}  # migrated: the tables exist


def test_tradeboard_run_with_demo_off_serves_an_empty_book_to_its_admin(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(TRADEBOARD_VAR=str(tmp_path / "var"), PYTHONUNBUFFERED="1", TRADEBOARD_DEMO="false")
    process = subprocess.Popen([*_tradeboard_command(), "run", "--port", str(free_port()), "--web-workers", "1"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    output = Output(process.stdout)
    running = RunningTradeboard(process, output, tmp_path, tmp_path / "var", env, url="", admin="", password="")
    try:
        running.url = output.wait_for(r"tradeboard is running: (http://\S+)", process, START_TIMEOUT).group(1)
        assert "starting with an empty book" in output.text and "seeding demo data" not in output.text
        admin = re.search(r"^\s+username: (\S+)$", output.text, re.M).group(1)
        password = re.search(r"^\s+password: (\S+)$", output.text, re.M).group(1)
        session = running.sign_in(admin, password)
        fund = session.get(running.url + "api/v1/dashboards/client", timeout=30)
        assert fund.status_code == 200 and fund.json()["accounts"] == []
        paper = session.get(running.url + "api/v1/dashboards/paper-trading", timeout=30).json()
        assert paper["overview"]["total_accounts"] == 0
        process.send_signal(signal.SIGINT)
        process.wait(STOP_TIMEOUT)
        assert process.returncode == 0, output.text[-3000:]
    finally:
        running.stop()
    assert counts(f"sqlite:///{tmp_path / 'var' / 'tradeboard.db'}") == {"accounts": 0, "signals": 0, "users": 1}
