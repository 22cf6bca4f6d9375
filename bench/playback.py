"""Playback limits, each next to its target:

- bytes per event on the wire: replay chunks (per bar: bars, equity and fills) and live stream events;
- the live poll's server-side time (in-process through the whole Flask stack: auth, Redis round trip);
- the browser's per-tick work at 60 bars/s on a 100,000-bar synthetic run (headless Chromium,
  performance.now(): the tick callback plus Plotly's synchronous extendTraces/redraw; and the wall
  time from the callback's start to Plotly's afterplot, idle gaps included), early and after seeking
  to bar 90,000, with the JS heap at both points: neither may grow with the bars already shown.

    python bench/playback.py [--bars 100000] [--seconds 8]
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
TARGET_TICK_MS = 16


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
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of playing per browser sample")
    parser.add_argument("--windows", default="100,300,1000", help="visible windows (bars) to measure, comma-separated")
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
        Select(driver.find_element(By.ID, "playback-speed")).select_by_value("60")

        def seek(bar: int) -> None:
            box = driver.find_element(By.ID, "playback-seek-to")
            box.clear()
            box.send_keys(str(bar))
            driver.find_element(By.ID, "playback-seek").click()
            time.sleep(0.5)

        def sample(label: str, profile: bool = False) -> dict:
            driver.execute_script("const s = window.tbPlaybackState; s.tickTimes.length = 0; s.workTimes.length = 0;"
                                  "window.gc && window.gc();")
            pos0 = driver.execute_script("return window.tbPlaybackState.pos")
            if profile:
                driver.execute_cdp_cmd("Profiler.enable", {})
                driver.execute_cdp_cmd("Profiler.start", {})
            time.sleep(args.seconds)
            if profile:
                print_profile(driver.execute_cdp_cmd("Profiler.stop", {})["profile"], label)
            ticks, work, pos1, heap = driver.execute_script(
                "window.gc && window.gc(); const s = window.tbPlaybackState;"
                "return [s.tickTimes.slice(), s.workTimes.slice(), s.pos,"
                " performance.memory ? performance.memory.usedJSHeapSize : null]")
            candles = driver.execute_script(
                "return document.querySelector('#playback-chart .js-plotly-plot').data[0].x.length")
            ticks.sort()
            work.sort()
            out = {"median": statistics.median(work), "p95": work[int(len(work) * 0.95)], "n": len(work),
                   "wall": statistics.median(ticks), "wall_p95": ticks[int(len(ticks) * 0.95)],
                   "rate": (pos1 - pos0) / args.seconds, "heap": heap, "candles": candles, "pos": pos1}
            line(f"per-tick work, {label}, median", out["median"], "ms", TARGET_TICK_MS)
            print(f"{'  work p95; wall median/p95 (to afterplot)':<52}: {out['p95']:9.2f} ms; {out['wall']:.2f} / "
                  f"{out['wall_p95']:.2f} ms")
            print(f"{'  ticks, bars/s, candles drawn, at bar':<52}: {out['n']:9d}, {out['rate']:.1f} bars/s, "
                  f"{out['candles']} candles, bar {out['pos']:,}")
            return out

        for window in args.windows.split(","):
            Select(driver.find_element(By.ID, "playback-window")).select_by_value(window)
            seek(1_000)
            first = sample(f"window {window}, from bar 1,000", profile=args.profile)
            seek(int(args.bars * 0.9))
            later = sample(f"window {window}, from bar {int(args.bars * 0.9):,}")
            if first["heap"] and later["heap"]:
                print(f"{'  JS heap early / late (after gc)':<52}: {first['heap'] / 1e6:9.1f} / "
                      f"{later['heap'] / 1e6:.1f} MB ({(later['heap'] - first['heap']) / 1e6:+.1f} MB)")
            print(f"{'  per-tick time late / early':<52}: {later['median'] / first['median']:9.2f} x   "
                  "target: no growth (about 1 x)")
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
