"""End to end: `tradeboard run` with nothing configured starts everything, serves, and stops cleanly."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from app.services import free_port, port_open

MISSING = [m for m in ("data_access.migrate", "data_access.seed") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"tradeboard run needs {', '.join(MISSING)} (not written yet)")

START_TIMEOUT = 90
STOP_TIMEOUT = 45


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


def test_tradeboard_run_starts_serves_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY", "VAR_DIR")}
    env.update(TRADEBOARD_VAR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [*_tradeboard_command(), "run", "--port", str(port), "--web-workers", "1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    output = Output(process.stdout)
    try:
        url = output.wait_for(r"tradeboard is running: (http://\S+)", process, START_TIMEOUT).group(1)
        redis_port = int(re.search(r"private redis-server on 127\.0\.0\.1:(\d+)", output.text).group(1))
        username = re.search(r"^\s+username: (\S+)$", output.text, re.M).group(1)
        password = re.search(r"^\s+password: (\S+)$", output.text, re.M).group(1)
        assert url == f"http://127.0.0.1:{port}/"
        assert (tmp_path / "var" / "secret_key").exists()
        assert (tmp_path / "var" / "tradeboard.db").exists()

        session = requests.Session()
        login_page = session.get(url + "login", timeout=10)
        token = re.search(r'name="form_token" value="([^"]+)"', login_page.text).group(1)
        signed_in = session.post(url + "login", data={"username": username, "password": password,
                                                      "form_token": token}, timeout=10)
        assert signed_in.status_code == 200 and signed_in.url == url  # followed the 303 to the home page
        assert 'id="react-entry-point"' in signed_in.text
        assert session.get(url + "_dash-layout", timeout=10).status_code == 200

        deadline = time.monotonic() + 30
        while True:
            health = requests.get(url + "api/v1/health", timeout=5)
            body = health.json()
            if body["status"] == "healthy" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert health.status_code == 200
        assert body["status"] == "healthy", body
        assert body["workers"]["count"] == 1 and body["workers"]["cache_workers"] == 0  # no cache worker by default

        process.send_signal(signal.SIGINT)
        process.wait(STOP_TIMEOUT)
        assert process.returncode == 0, output.text[-3000:]
        assert not port_open("127.0.0.1", redis_port)
        assert not port_open("127.0.0.1", port)
        assert "tradeboard: stopped" in output.text
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
    logs = tmp_path / "var" / "log"
    assert (logs / "worker.log").exists() and (logs / "beat.log").exists() and not (logs / "cache-worker.log").exists()
    # gunicorn's access log, in its combined format (app/access_log.py writes it)
    access = (logs / "access.log").read_text()
    assert re.search(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /api/v1/health HTTP/1\.1" 200 \d+ "-" "python-requests/', access, re.M), access[-2000:]
