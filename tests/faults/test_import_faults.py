"""The import page's commit when its worker dies: the transaction is rolled back, the job (acknowledged
late) is delivered to another worker, and the file goes in once, whole."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pandas as pd
from celery import Celery
from sqlalchemy import func, select

from data_access import models as m
from data_access.imports import jobs, progress
from data_access.ingest.upsert import COPY_CHUNK
from tests.celery_worker import output_tail, running_worker
from tests.imports.conftest import book_engine, upload

# Two COPY chunks: the first progress report comes once COPY_CHUNK rows are written, and the kill
# lands while the rest and the derived signal days are still being written (about 2 s).
ROWS = COPY_CHUNK + 50_000
QUICK_REDELIVERY = {"CELERY_VISIBILITY_TIMEOUT_SECONDS": "3", "CELERY_RESTORE_SECONDS": "1"}


def signals_csv(rows: int) -> bytes:
    start = np.datetime64("2026-11-02T14:30:00")
    frame = pd.DataFrame({
        "signal_id": [f"k{i}" for i in range(rows)], "strategy_name": np.where(np.arange(rows) % 2, "Alpha", "Beta"),
        "symbol": np.array(["AAPL", "MSFT", "NVDA", "SPY"])[np.arange(rows) % 4], "side": "BUY", "quantity": 10,
        "received_time": (start + np.arange(rows).astype("timedelta64[s]")).astype(str),
        "execution_status": "PENDING"})
    return frame.to_csv(index=False).encode()


def test_a_worker_killed_mid_commit_leaves_nothing_and_another_commits_the_file_once(postgres_url, redis_url,
                                                                                    redis_client, tmp_path):
    engine = book_engine(postgres_url)
    record = upload(engine, tmp_path, "many.csv", signals_csv(ROWS))
    assert jobs.check(engine, record["id"])["status"] == "valid"
    jobs.mark(engine, record["id"], "committing", ("valid",))
    client = Celery(broker=redis_url, backend=redis_url)
    try:
        with running_worker(redis_url, postgres_url, "import-first@localhost", **QUICK_REDELIVERY) as first:
            result = client.send_task("tasks.imports.commit_import", args=[record["id"]])
            deadline = time.monotonic() + 120
            while not (progress.read(redis_client, record["id"]) or {}).get("written"):
                assert time.monotonic() < deadline and first.poll() is None, output_tail(first)
                time.sleep(0.05)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(m.Signal)).scalar() == 0, "the commit was rolled back"
        assert jobs.get(engine, record["id"])["status"] == "committing"
        with running_worker(redis_url, postgres_url, "import-second@localhost", **QUICK_REDELIVERY) as second:
            try:
                outcome = result.get(timeout=180)
            except Exception:
                raise AssertionError(f"the commit was not delivered again: {output_tail(second)}") from None
        assert outcome["status"] == "committed", outcome
        stored = jobs.get(engine, record["id"])
        assert stored["counts"] == {"signals": {"inserted": ROWS, "updated": 0, "unchanged": 0}}
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(m.Signal)).scalar() == ROWS
            assert conn.execute(select(func.sum(m.SignalDay.signals))).scalar() == ROWS
    finally:
        engine.dispose()
