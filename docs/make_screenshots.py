"""Make the README's screenshots: docs/images/client.png and docs/images/paper-trading.png.

Starts `tradeboard run --port PORT` in a fresh var directory (its own SQLite file, private Redis, the
demo book, a new admin), signs in with headless Chromium (selenium and chromedriver on PATH, as the
browser tests use), waits until each dashboard has drawn its charts and KPIs, saves the PNGs and
stops the run. Run it again whenever a page changes:

    .venv/bin/python docs/make_screenshots.py [--port 8071] [--width 1440] [--height 1100]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
PAGES = {"client": "/client", "paper-trading": "/paper-trading"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_run(port: int, var: Path) -> tuple[subprocess.Popen, str, str]:
    """`tradeboard run` on PORT with its own var dir; returns the process, the admin's name and password."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    env.update(TRADEBOARD_VAR=str(var), PYTHONUNBUFFERED="1")
    tradeboard = Path(sys.executable).with_name("tradeboard")
    process = subprocess.Popen([str(tradeboard), "run", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    username = password = None
    deadline = time.monotonic() + 180
    for line in process.stdout:
        print("  run|", line.rstrip())
        if m := re.match(r"\s+username: (\S+)", line):
            username = m.group(1)
        if m := re.match(r"\s+password: (\S+)", line):
            password = m.group(1)
        if "Press Ctrl-C to stop" in line or time.monotonic() > deadline:
            break
    if not (username and password):
        process.send_signal(signal.SIGINT)
        raise SystemExit("tradeboard run did not print an admin and password")
    # keep reading its output (gunicorn's error log goes there too), so a full pipe never blocks it
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, username, password


def browser(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(options=options)


def page_drawn(driver) -> bool:
    """Every chart has its SVG, no KPI still shows its placeholder and nothing is loading."""
    return driver.execute_script("""
        const graphs = document.querySelectorAll('.js-plotly-plot');
        const drawn = [...graphs].every(g => g.querySelector('.main-svg'));
        const kpis = [...document.querySelectorAll('.kpi-value')];
        const filled = kpis.length > 0 && kpis.every(k => k.textContent.trim() !== '—');
        const loading = document.querySelector('[data-dash-is-loading="true"]');
        return graphs.length > 0 && drawn && filled && !loading;
    """)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1100)
    args = parser.parse_args()

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    IMAGES.mkdir(parents=True, exist_ok=True)
    var = Path(tempfile.mkdtemp(prefix="tradeboard-screens-"))
    port = args.port or free_port()
    process, username, password = start_run(port, var)
    base = f"http://127.0.0.1:{port}"
    driver = browser(args.width, args.height)
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(f"{base}/login")
        wait.until(lambda d: d.find_elements(By.ID, "username"))
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: "/login" not in d.current_url)
        for name, path in PAGES.items():
            driver.get(base + path)
            wait.until(page_drawn)
            time.sleep(1.5)  # let Plotly finish its transitions and the freshness labels settle
            target = IMAGES / f"{name}.png"
            driver.save_screenshot(str(target))
            print(f"wrote {target.relative_to(ROOT)}")
    finally:
        driver.quit()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
