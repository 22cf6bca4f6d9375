"""A live playback run on a real Celery worker and the test Redis: started through the API, polled
with the last-seen id until the end; every bar arrives once and in order with the engine's fills; the
poll answers fast; the stream is trimmed while it runs and expires after the run."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from analytics import backtest as bt
from data_access import migrate, playback
from tests.celery_worker import output_tail, running_worker
from tests.conftest import build_app, log_in
from tests.data_access.test_playback_data import KIND, N_BARS, PARAMS, SYMBOL, small_bars, store_small_run


@pytest.fixture
def live_app(app_settings, redis_client):
    migrate.upgrade(app_settings.DATABASE_URL)
    store_small_run(app_settings.DATABASE_URL)
    dash_app = build_app(app_settings)
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


def test_a_live_run_streams_every_bar_once_in_order_and_expires(live_app, app_settings, redis_client, users,
                                                                 monkeypatch):
    client = live_app.server.test_client()
    assert log_in(client, "analyst", users["analyst"]).status_code == 303
    with running_worker(app_settings.REDIS_URL, app_settings.DATABASE_URL, f"playback-{uuid.uuid4().hex[:8]}@localhost",
                        CACHE_TYPE="RedisCache", SECRET_KEY=app_settings.SECRET_KEY) as worker:
        started = client.post("/api/v1/playback/live", json={"symbol": SYMBOL, "strategy": KIND, "params": PARAMS,
                                                             "cash": 100_000, "bars_per_second": 400})
        assert started.status_code == 202, started.get_json()
        live_id = started.get_json()["id"]
        assert started.headers["Location"].endswith(f"/api/v1/playback/live/{live_id}")

        events, after, polls, server_ms = [], "0", 0, []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            response = client.get(f"/api/v1/playback/live/{live_id}?after={after}&max=50")
            server_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)
            body = response.get_json()
            polls += 1
            events += body["events"]
            after = body["last_id"]
            if body["finished"]:
                break
            time.sleep(0.05)
        else:
            worker.terminate()
            raise AssertionError(f"the live run did not finish; worker said: {output_tail(worker)}")

    assert body["status"] == "done" and body["total"] == N_BARS
    assert [e["i"] for e in events] == list(range(N_BARS))  # in order, no gaps, no duplicates
    assert polls > 3  # it arrived over time, read by last-seen id
    expected = list(bt.stream(bt.Bars.from_frame(small_bars()), KIND, PARAMS, cash=100_000))
    for got, want in zip(events, expected):
        assert got["c"] == pytest.approx(want["close"], abs=1e-4)
        assert got["e"] == pytest.approx(want["stats"]["equity"], abs=0.01)
        assert got["n"] == [want["stats"]["trades"], want["stats"]["wins"], want["stats"]["losses"]]
        assert [s[0] for s in got.get("s", [])] == [
            (playback.ENTRY if s["type"] == "entry" else playback.EXIT)[s["side"]] for s in want["signals"]]
    sizes = [len(json.dumps(e, separators=(",", ":"))) for e in events]
    assert sum(sizes) / len(sizes) < 300

    # after the end: nothing more, the stream and its meta expire
    again = client.get(f"/api/v1/playback/live/{live_id}?after={after}").get_json()
    assert again["events"] == [] and again["finished"] is True
    stream_ttl = redis_client.ttl(playback.stream_key(live_id))
    assert 0 < stream_ttl <= playback.STREAM_TTL_SECONDS
    assert 0 < redis_client.ttl(playback.meta_key(live_id)) <= playback.STREAM_TTL_SECONDS

    # a reload mid-run resumes from the stream: reading from the start gives the same events
    replayed = client.get(f"/api/v1/playback/live/{live_id}?after=0&max=2000").get_json()["events"]
    assert replayed == events

    # the poll answers fast (in-process through the whole Flask stack: auth, Redis round trip)
    timings = []
    for _ in range(30):
        t0 = time.perf_counter()
        client.get(f"/api/v1/playback/live/{live_id}?after=0&max=60")
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    assert timings[len(timings) // 2] < 20, timings


def test_the_stream_is_trimmed_and_expires(redis_client, monkeypatch):
    monkeypatch.setattr(playback, "STREAM_MAXLEN", 100)
    live_id = playback.create_live({"symbol": SYMBOL, "kind": KIND}, redis=redis_client)
    frame = small_bars(n=600)
    events = bt.stream(bt.Bars.from_frame(frame), KIND, PARAMS)
    assert playback.publish(live_id, events, clock=False, total=600, redis=redis_client) == 600
    length = redis_client.xlen(playback.stream_key(live_id))
    assert 100 <= length < 600  # approximately trimmed (MAXLEN ~)
    playback.finish_live(live_id, "done", redis=redis_client, ttl=1)
    body = json.loads(playback.read_live(live_id, "0", 2000, redis=redis_client))
    assert body["events"][-1]["i"] == 599 and body["events"][0]["i"] == 600 - length and body["finished"]
    time.sleep(1.6)
    assert not redis_client.exists(playback.stream_key(live_id), playback.meta_key(live_id))
    with pytest.raises(playback.PlaybackNotFound):
        playback.read_live(live_id, "0", 10, redis=redis_client)
