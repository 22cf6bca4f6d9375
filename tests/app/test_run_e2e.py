"""End to end: `tradeboard run` with nothing configured starts everything and serves; every other command,
run beside it with neither REDIS_URL nor DATABASE_URL set, works on the running app's database and cache;
Ctrl-C stops everything cleanly.

One `tradeboard run` serves the whole module (starting it takes seconds), and the commands are real
`tradeboard` processes, as a user at a second terminal would start them. Ctrl-C is the module's last test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from app.cli.common import load_settings
from app.services import free_port, port_open
from tests.app.test_cli_backtests import write_bars_csv

MISSING = [m for m in ("data_access.migrate", "data_access.seed") if importlib.util.find_spec(m) is None]
pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"tradeboard run needs {', '.join(MISSING)} (not written yet)"),
    # one xdist worker runs the module in order: one `tradeboard run` for all of it, Ctrl-C last
    pytest.mark.xdist_group("tradeboard-run"),
]

START_TIMEOUT = 90
STOP_TIMEOUT = 45
COMMAND_TIMEOUT = 120
SERVICE_VARIABLES = ("REDIS_URL", "DATABASE_URL", "SECRET_KEY", "VAR_DIR")


def _tradeboard_command() -> list[str]:
    script = Path(sys.executable).parent / "tradeboard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


class Output:
    """Collects a process's output lines on a thread, so reading never blocks the test."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, process: subprocess.Popen, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text, re.M)
            if match:
                return match
            if process.poll() is not None:
                time.sleep(0.2)
                pytest.fail(f"tradeboard run exited with {process.returncode}:\n{self.text[-4000:]}")
            time.sleep(0.2)
        pytest.fail(f"no {pattern!r} within {timeout:g} s:\n{self.text[-4000:]}")


@dataclass
class RunningTradeboard:
    process: subprocess.Popen
    output: Output
    cwd: Path
    var: Path
    env: dict[str, str]  # no REDIS_URL, DATABASE_URL, SECRET_KEY: what a second terminal has
    url: str
    admin: str
    password: str

    def command(self, *args) -> subprocess.CompletedProcess:
        """``tradeboard ARGS`` beside the running one; it must exit 0."""
        assert self.process.poll() is None, f"tradeboard run is not running:\n{self.output.text[-3000:]}"
        done = subprocess.run([*_tradeboard_command(), *map(str, args)], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        assert done.returncode == 0, f"tradeboard {' '.join(map(str, args))} exited {done.returncode}:\n" \
                                     f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        return done

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url((self.var / "redis.url").read_text().strip(), socket_timeout=5)

    def sign_in(self, username: str, password: str) -> requests.Session:
        session = requests.Session()
        login_page = session.get(self.url + "login", timeout=10)
        token = re.search(r'name="form_token" value="([^"]+)"', login_page.text).group(1)
        signed_in = session.post(self.url + "login", data={"username": username, "password": password,
                                                           "form_token": token}, timeout=10)
        assert signed_in.status_code == 200 and signed_in.url == self.url, signed_in.status_code  # 303 to home
        return session

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@pytest.fixture(scope="module")
def tradeboard(tmp_path_factory) -> Iterator[RunningTradeboard]:
    cwd = tmp_path_factory.mktemp("tradeboard-run")
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(TRADEBOARD_VAR=str(cwd / "var"), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [*_tradeboard_command(), "run", "--port", str(free_port()), "--web-workers", "1"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    output = Output(process.stdout)
    running = RunningTradeboard(process, output, cwd, cwd / "var", env, url="", admin="", password="")
    try:
        running.url = output.wait_for(r"tradeboard is running: (http://\S+)", process, START_TIMEOUT).group(1)
        running.admin = re.search(r"^\s+username: (\S+)$", output.text, re.M).group(1)
        running.password = re.search(r"^\s+password: (\S+)$", output.text, re.M).group(1)
        yield running
    finally:
        running.stop()


def generation(client: redis.Redis, family: str) -> int:
    return int(client.get(f"tb:gen:{family}") or 0)


def section_keys(client: redis.Redis, section: str) -> set[str]:
    return {key.decode() for key in client.scan_iter(match=f"tb:s:{section}:*")}


def test_tradeboard_run_starts_everything_and_serves_its_admin(tradeboard):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", tradeboard.url)
    assert (tradeboard.var / "secret_key").exists()
    assert (tradeboard.var / "tradeboard.db").exists()
    assert (tradeboard.var / "run.pid").read_text().strip() == str(tradeboard.process.pid)
    redis_port = int(re.search(r"private redis-server on 127\.0\.0\.1:(\d+)", tradeboard.output.text).group(1))
    assert (tradeboard.var / "redis.url").read_text().strip() == f"redis://127.0.0.1:{redis_port}/0"

    session = tradeboard.sign_in(tradeboard.admin, tradeboard.password)
    assert 'id="react-entry-point"' in session.get(tradeboard.url, timeout=10).text
    assert session.get(tradeboard.url + "_dash-layout", timeout=10).status_code == 200

    deadline = time.monotonic() + 30
    while True:
        health = requests.get(tradeboard.url + "api/v1/health", timeout=5)
        body = health.json()
        if body["status"] == "healthy" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert health.status_code == 200
    assert body["status"] == "healthy", body
    assert body["workers"]["count"] == 1 and body["workers"]["cache_workers"] == 0  # no cache worker by default


# --------------------------------------------------------------------------- how a command finds a running one


def leave_running_files(var: Path, pid: int) -> None:
    var.mkdir(parents=True, exist_ok=True)
    (var / "run.pid").write_text(f"{pid}\n")
    (var / "redis.url").write_text("redis://127.0.0.1:6399/0\n")
    (var / "database.url").write_text(f"sqlite:///{var / 'desk.db'}\n")


def test_a_command_takes_the_redis_and_database_of_a_live_run_for_what_its_environment_leaves_unset(
        tmp_path, monkeypatch):
    for name in SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRADEBOARD_VAR", str(tmp_path))
    leave_running_files(tmp_path, os.getpid())  # this process stands in for the live run
    found = load_settings()
    assert (found.REDIS_URL, found.DATABASE_URL) == ("redis://127.0.0.1:6399/0", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    found = load_settings()
    assert (found.REDIS_URL, found.DATABASE_URL) == ("redis://127.0.0.1:6399/0", "sqlite:///elsewhere.db")


def test_a_command_ignores_what_a_killed_run_left_behind(tmp_path, monkeypatch):
    for name in SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRADEBOARD_VAR", str(tmp_path))
    gone = subprocess.Popen(["true"])
    gone.wait()
    leave_running_files(tmp_path, gone.pid)
    found = load_settings()
    assert (found.REDIS_URL, found.DATABASE_URL) == (None, f"sqlite:///{tmp_path / 'tradeboard.db'}")


# --------------------------------------------------------------------------- every command beside it


def test_migrate_beside_tradeboard_run_migrates_its_database(tradeboard):
    done = tradeboard.command("migrate")
    assert done.stdout.strip() == f"migrated sqlite:///{tradeboard.var.resolve() / 'tradeboard.db'}"


def test_users_and_tokens_made_beside_tradeboard_run_sign_in_to_it(tradeboard):
    admin = tradeboard.sign_in(tradeboard.admin, tradeboard.password)
    accounts = [row["account_name"] for row in
                admin.get(tradeboard.url + "api/v1/dashboards/client", timeout=30).json()["accounts"]]
    assert len(accounts) >= 2

    created = tradeboard.command("create-user", "carol", "--role", "client", "--accounts", accounts[0])
    password = re.search(r"^password: (\S+)$", created.stdout, re.M).group(1)
    tradeboard.sign_in("carol", password)
    token = tradeboard.command("create-token", "carol", "--name", "laptop").stdout.strip().splitlines()[-1]
    bearer = {"Authorization": f"Bearer {token}"}

    def scope() -> list[str] | None:
        response = requests.get(tradeboard.url + "api/v1/dashboards/client", headers=bearer, timeout=30)
        assert response.status_code == 200, response.text[:500]
        return response.json().get("account_scope")

    assert scope() == [accounts[0]]
    tradeboard.command("set-accounts", "carol", f"{accounts[0]},{accounts[1]}")
    assert scope() == [accounts[0], accounts[1]]

    listed = tradeboard.command("list-tokens", "carol").stdout
    token_id = re.search(r"^(\d+)\s+carol\s+laptop\s", listed, re.M).group(1)
    assert token not in listed
    tradeboard.command("revoke-token", token_id)
    assert requests.get(tradeboard.url + "api/v1/dashboards/client", headers=bearer, timeout=10).status_code == 401
    tradeboard.command("create-user", "carol", "--role", "client", "--password", "carol-new-password-1",
                       "--reset-password")
    tradeboard.sign_in("carol", "carol-new-password-1")


def test_import_bars_and_backtest_beside_tradeboard_run_write_its_database_and_invalidate_its_cache(tradeboard):
    cache = tradeboard.redis()
    bars, backtests = generation(cache, "bars"), generation(cache, "backtests")
    write_bars_csv(tradeboard.cwd / "zzz.csv", n=300)
    imported = tradeboard.command("import-bars", tradeboard.cwd / "zzz.csv", "--symbol", "ZZZ")
    assert "imported 300 1d bars for ZZZ" in imported.stdout
    assert generation(cache, "bars") == bars + 1

    run = json.loads(tradeboard.command("backtest", "--symbol", "ZZZ", "--strategy", "sma_cross", "--json").stdout)
    assert generation(cache, "backtests") == backtests + 1
    admin = tradeboard.sign_in(tradeboard.admin, tradeboard.password)
    stored = admin.get(f"{tradeboard.url}api/v1/backtests/{run['id']}", timeout=30)
    assert stored.status_code == 200 and stored.json()["symbol"] == "ZZZ"


def test_load_dashboards_beside_tradeboard_run_warms_and_clears_its_cache(tradeboard):
    cache = tradeboard.redis()
    admin = tradeboard.sign_in(tradeboard.admin, tradeboard.password)

    def strategy_page(time_range: str) -> dict:
        return admin.get(tradeboard.url + "api/v1/dashboards/strategy-performance",
                         params={"time_range": time_range}, timeout=30).json()["metadata"]

    loaded = tradeboard.command("load-dashboards").stdout
    assert all(f"strategy performance {r}: aggregated in" in loaded for r in ("7d", "30d", "90d", "all"))
    before = strategy_page("7d")
    assert before["cached"] is True  # the page reads what the command loaded
    gen = generation(cache, "backtests")
    assert any(f":g{gen}:'7d'" in key for key in section_keys(cache, "by_symbol"))

    cleared = tradeboard.command("load-dashboards", "--clear-cache", "--time-range", "30d").stdout
    assert "cleared" in cleared and "strategy performance 30d: aggregated in" in cleared and "7d" not in cleared
    assert generation(cache, "backtests") == gen + 1
    assert any(f":g{gen + 1}:'30d'" in key for key in section_keys(cache, "by_symbol"))
    after = strategy_page("7d")  # the 7d sections from before the clear are no longer read
    assert after["computed_at"] > before["computed_at"]

    everything = tradeboard.command("load-dashboards", "--all-dashboards", "--time-range", "30d").stdout
    assert "client:" in everything and "paper_trading:" in everything
    task_id = tradeboard.command("load-dashboards", "--async", "--time-range", "7d").stdout.split()[-1]
    deadline = time.monotonic() + 60
    while (meta := cache.get(f"celery-task-meta-{task_id}")) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert meta is not None, "the running worker did not finish the queued load within 60 s"
    assert json.loads(meta)["status"] == "SUCCESS"  # done by the worker `tradeboard run` started


def test_seed_reset_beside_tradeboard_run_replaces_its_data_and_drops_its_cached_sections(tradeboard):
    cache = tradeboard.redis()
    tradeboard.command("load-dashboards", "--time-range", "7d")
    assert section_keys(cache, "*")
    seeded = tradeboard.command("seed", "--reset")
    assert re.search(r"^\s+signals: \d+$", seeded.stdout, re.M)
    assert not section_keys(cache, "*")
    admin = tradeboard.sign_in(tradeboard.admin, tradeboard.password)  # admins are kept
    assert admin.get(tradeboard.url + "api/v1/dashboards/strategy-performance", timeout=30).status_code == 200


# --------------------------------------------------------------------------- stopping it (the module's last test)


def test_ctrl_c_stops_everything_tradeboard_run_started(tradeboard):
    redis_port = int(re.search(r"private redis-server on 127\.0\.0\.1:(\d+)", tradeboard.output.text).group(1))
    web_port = int(re.search(r":(\d+)/$", tradeboard.url).group(1))
    health = requests.get(tradeboard.url + "api/v1/health", timeout=5)  # one line in the access log

    tradeboard.process.send_signal(signal.SIGINT)
    tradeboard.process.wait(STOP_TIMEOUT)
    assert tradeboard.process.returncode == 0, tradeboard.output.text[-3000:]
    assert "tradeboard: stopped" in tradeboard.output.text
    assert not port_open("127.0.0.1", redis_port)
    assert not port_open("127.0.0.1", web_port)
    assert not any((tradeboard.var / name).exists() for name in ("run.pid", "redis.url", "database.url"))

    logs = tradeboard.var / "log"
    assert (logs / "worker.log").exists() and (logs / "beat.log").exists() and not (logs / "cache-worker.log").exists()
    # gunicorn's access log, in its combined format (app/access_log.py writes it)
    access = (logs / "access.log").read_text()
    assert re.search(rf'^127\.0\.0\.1 - - \[[^]]+\] "GET /api/v1/health HTTP/1\.1" {health.status_code} \d+ "-" '
                     r'"python-requests/', access, re.M), access[-2000:]
