"""Playback limits, each next to its target:

- bytes per event on the wire: replay chunks (per bar: bars, equity and fills) and live stream events;
- the live poll's server-side time (in-process through the whole Flask stack: auth, Redis round trip);
- the browser on a 100,000-bar synthetic run (headless Chromium), at each window (100, 300, 1,000
  bars and all) and speed (120 and 500 bars/s): animation frames per second (target >= 55), the
  longest main-thread task (none over 50 ms), the player's per-tick work (its callback and the
  chart's update, performance.now()) and the bars drawn per second (within 10 % of the speed).

    python bench/playback.py [--bars 100000] [--seconds 5] [--windows 100,300,1000,all] [--speeds 120,500]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, bench/ would shadow analytics

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analytics import backtest as bt  # noqa: E402

TARGET_BYTES = 300
TARGET_POLL_MS = 20
TARGET_FPS = 55


def synthetic_bars(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.r_[close[0], close[:-1]]
    spread = np.abs(rng.normal(0, 0.001, n)) * close
    return pd.DataFrame({"time": pd.date_range("2020-01-01", periods=n, freq="1min"), "open": open_,
                         "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread,
                         "close": close, "volume": rng.integers(100, 10_000, n)})


def line(label: str, value: float, unit: str, target: float) -> None:
    verdict = "ok" if value < target else "MISSED"
    print(f"{label:<52}: {value:9.2f} {unit:<3} target < {target:g} {unit}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of playing per browser sample")
    parser.add_argument("--windows", default="100,300,1000,all", help="visible windows to measure, comma-separated")
    parser.add_argument("--speeds", default="120,500", help="speeds (bars/s) to measure at each window, comma-separated")
    parser.add_argument("--profile", action="store_true",
                        help="record a CPU profile (DevTools) of each window's first sample and print its top functions")
    args = parser.parse_args()

    from app import create_app
    from app.auth import create_user
    from app.config import Settings
    from app.services import PrivateRedis
    from data_access import migrate, playback
    from data_access.backtest_store import store_run
    from data_access.bars_import import import_bars
    from data_access.db import Base

    work = Path(tempfile.mkdtemp(prefix="tb-bench-playback-"))
    redis_server = PrivateRedis(work).start()
    try:
        url = f"sqlite:///{work / 'bench.db'}"
        migrate.upgrade(url)
        settings = Settings(DATABASE_URL=url, REDIS_URL=redis_server.url, VAR_DIR=str(work),
                            SECRET_KEY="bench-secret-key-not-for-production-0123456789", CACHE_TYPE="RedisCache")
        dash_app = create_app(settings)
        state = dash_app.server.extensions["tradeboard"]
        Base.metadata.create_all(state.engine)
        with state.session() as session:
            create_user(session, "bench", "analyst", password="bench-password-123")

        started = time.perf_counter()
        frame = synthetic_bars(args.bars)
        import_bars(url, frame, "SYN", "1m")
        result = bt.run(bt.Bars.from_frame(frame), "sma_cross", {"fast": 20, "slow": 80, "allow_short": True})
        run_id = store_run(url, result, symbol="SYN", timeframe="1m")
        print(f"{args.bars:,} synthetic 1-minute bars and a run with {len(result.trades):,} trades stored in "
              f"{time.perf_counter() - started:.1f} s")

        client = dash_app.server.test_client()
        login = client.get("/login").get_data(as_text=True)
        token = login.split('name="form_token" value="')[1].split('"')[0]
        client.post("/login", data={"username": "bench", "password": "bench-password-123", "form_token": token})

        # bytes per event: replay (per bar, fills included) and live
        wire = bars = 0
        for start in range(0, args.bars, playback.DEFAULT_CHUNK):
            body = client.get(f"/api/v1/playback/runs/{run_id}/chunk?start={start}&count={playback.DEFAULT_CHUNK}")
            wire += len(body.get_data())
            bars += body.get_json()["count"]
        line("replay bytes per event (bar + equity + fills)", wire / bars, "B", TARGET_BYTES)
        live_id = playback.create_live({"symbol": "SYN", "kind": "sma_cross"})
        sample = bt.Bars.from_frame(frame.iloc[:20_000])
        playback.publish(live_id, bt.stream(sample, "sma_cross", {"fast": 20, "slow": 80, "allow_short": True}),
                         clock=True, total=len(sample))
        playback.finish_live(live_id, "done")
        body = client.get(f"/api/v1/playback/live/{live_id}?after=0&max=2000")
        events = body.get_json()["events"]
        per_event = statistics.mean(len(json.dumps(e, separators=(",", ":"))) for e in events)
        line("live bytes per event (one bar, in the poll body)", len(body.get_data()) / len(events), "B", TARGET_BYTES)
        print(f"{'  (the event JSON alone)':<52}: {per_event:9.2f} B")

        # the live poll, server side: what one tick asks (after the last-seen id, up to 60 events)
        ids = [e for e in playback.sections.redis.xrange(playback.stream_key(live_id), count=2000)]
        timings = []
        for k in range(300):
            after = ids[(k * 37) % len(ids)][0].decode()
            t0 = time.perf_counter()
            response = client.get(f"/api/v1/playback/live/{live_id}?after={after}&max=60")
            timings.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        line("live poll, server side (Flask + auth + Redis), median", statistics.median(timings), "ms", TARGET_POLL_MS)
        timings.sort()
        print(f"{'  p95 / max':<52}: {timings[int(len(timings) * 0.95)]:9.2f} / {timings[-1]:.2f} ms")

        browser(dash_app, run_id, args)
    finally:
        redis_server.stop()


# One sample of playing, in the page: animation frames (requestAnimationFrame), main-thread tasks over
# 50 ms (the Long Tasks API), the player's per-tick work (its callback and the chart's update, from
# tbPlaybackState.workTimes) and the bars drawn, over ``seconds``.
SAMPLE = """
const [seconds, done] = [arguments[0], arguments[arguments.length - 1]];
const s = window.tbPlaybackState, frames = [], long = [];
const observer = new PerformanceObserver(list => list.getEntries().forEach(e => long.push(e.duration)));
observer.observe({type: 'longtask'});
s.workTimes.length = 0;
const c = window.tbPlaybackChart, drawn = () => (c && c.drawn ? c.drawn() : s.pos); // what is on screen
const p0 = drawn(), t0 = performance.now();
const loop = t => {
  frames.push(t);
  if (t - t0 < seconds * 1000) { requestAnimationFrame(loop); return; }
  observer.disconnect();
  const gaps = frames.slice(1).map((v, i) => v - frames[i]), work = s.workTimes.slice().sort((a, b) => a - b);
  done({fps: (frames.length - 1) / ((frames[frames.length - 1] - frames[0]) / 1000), longest_gap: Math.max(...gaps),
        long_tasks: long.length, longest_task: long.length ? Math.max(...long) : 0,
        work: work.length ? work[Math.floor(work.length / 2)] : 0, work_max: work.length ? work[work.length - 1] : 0,
        rate: (drawn() - p0) / ((t - t0) / 1000), pos: s.pos,
        heap: performance.memory ? performance.memory.usedJSHeapSize : null});
};
requestAnimationFrame(loop);
"""


def browser(dash_app, run_id: int, args) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    from werkzeug.serving import make_server

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--enable-precise-memory-info", "--js-flags=--expose-gc"):
        options.add_argument(argument)
    if Path("/usr/bin/chromium").exists():
        options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(args.seconds + 60)
    try:
        wait = WebDriverWait(driver, 120)
        driver.get(f"{base}/login")
        driver.find_element(By.ID, "username").send_keys("bench")
        driver.find_element(By.ID, "password").send_keys("bench-password-123")
        driver.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: "/login" not in d.current_url)
        t0 = time.perf_counter()
        driver.get(f"{base}/playback?run={run_id}")
        wait.until(lambda d: d.execute_script("const s = window.tbPlaybackState; return s && s.n >= s.total && s.total > 0"))
        print(f"browser: {args.bars:,} bars loaded in {time.perf_counter() - t0:.1f} s (chunks of 5,000, playing meanwhile)")

        def seek(bar: int) -> None:
            box = driver.find_element(By.ID, "playback-seek-to")
            box.clear()
            box.send_keys(str(bar))
            driver.find_element(By.ID, "playback-seek").click()
            time.sleep(0.5)

        def sample(window: str, speed: int, start: int, profile: bool) -> dict:
            Select(driver.find_element(By.ID, "playback-speed")).select_by_value(str(speed))
            seek(start)
            driver.execute_script("window.gc && window.gc()")
            time.sleep(0.5)
            if profile:
                driver.execute_cdp_cmd("Profiler.enable", {})
                driver.execute_cdp_cmd("Profiler.start", {})
            out = driver.execute_async_script(SAMPLE, args.seconds)
            label = f"window {window:>4}, {speed:3d} bars/s from bar {start:,}"
            if profile:
                print_profile(driver.execute_cdp_cmd("Profiler.stop", {})["profile"], label)
            within = abs(out["rate"] - speed) / speed * 100
            print(f"{label:<46}: {out['fps']:5.1f} fps (>= {TARGET_FPS})  longest task "
                  f"{out['longest_task']:5.0f} ms ({out['long_tasks']} over 50)  frame gap {out['longest_gap']:4.0f} ms  "
                  f"tick {out['work']:5.2f} / {out['work_max']:5.1f} ms  {out['rate']:6.1f} bars/s ({within:4.1f} % off)  "
                  f"{'ok' if out['fps'] >= TARGET_FPS and out['long_tasks'] == 0 and within <= 10 else 'MISSED'}")
            return out

        results = []
        for window in args.windows.split(","):
            Select(driver.find_element(By.ID, "playback-window")).select_by_value(window)
            for speed in (int(v) for v in args.speeds.split(",")):
                start = 1_000 if speed <= 200 else int(args.bars * 0.6)
                results.append(sample(window, speed, start, args.profile and not results))
        worst = min(r["fps"] for r in results)
        longest = max(r["longest_task"] for r in results)
        print(f"{'worst fps / longest task over all samples':<46}: {worst:5.1f} fps, {longest:.0f} ms   "
              f"target >= {TARGET_FPS} fps, no task over 50 ms  {'ok' if worst >= TARGET_FPS and longest == 0 else 'MISSED'}")
    finally:
        driver.quit()
        server.shutdown()


def print_profile(profile: dict, label: str, top: int = 20) -> None:
    """A DevTools CPU profile's busiest functions (name, file, line): by self time, and by total time
    (the function and what it called) to see which of Plotly's phases costs what."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", ())}

    def name_of(node_id: int) -> str:
        frame = nodes[node_id]["callFrame"]
        if not frame["url"]:
            return frame["functionName"]
        return f"{frame['functionName'] or '(anonymous)'} {Path(frame['url']).name}:{frame['lineNumber'] + 1}"

    self_us: dict[str, float] = {}
    total_us: dict[str, float] = {}
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"]):
        name = name_of(node_id)
        self_us[name] = self_us.get(name, 0.0) + delta
        on_stack, at = set(), node_id
        while at is not None:
            on_stack.add(name_of(at))
            at = parent.get(at)
        for name in on_stack:
            total_us[name] = total_us.get(name, 0.0) + delta
    sampled = sum(self_us.values())
    busy = sampled - sum(self_us.get(k, 0.0) for k in ("(idle)", "(program)"))
    print(f"  CPU profile, {label}: {sampled / 1e6:.1f} s sampled, {busy / 1e6:.2f} s busy")
    for title, table in (("self", self_us), ("total", total_us)):
        rows = [(k, v) for k, v in table.items() if k not in ("(root)", "(idle)", "(program)")]
        for name, us in sorted(rows, key=lambda kv: -kv[1])[:top]:
            print(f"    {title:<5} {us / 1e3:9.1f} ms  {us / busy * 100 if busy else 0:5.1f} %  {name}")


if __name__ == "__main__":
    main()
