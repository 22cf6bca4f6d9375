"""A running commit's progress as the page shows it: rows written and rows per second, published to
Redis by the job and read back by the page; and uploads never committed expire."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from callbacks import import_render
from data_access import models as m
from data_access.imports import jobs, progress
from tests.imports.conftest import upload
from tests.imports.test_import_jobs import SIGNALS


def test_the_commit_publishes_rows_written_and_the_page_reads_rows_per_second(engine, tmp_path, redis_client):
    record = upload(engine, tmp_path, "s.csv", SIGNALS)
    jobs.check(engine, record["id"])
    jobs.commit(engine, record["id"], redis_client)
    report = progress.read(redis_client, record["id"])
    assert report["phase"] == "done" and report["written"] == 3 and report["total"] == 3

    running = {**report, "phase": "writing", "written": 250_000, "total": 1_000_000, "started": 100.0, "at": 110.0}
    outputs = import_render.render({**jobs.get(engine, record["id"]), "status": "committing"}, running, [], 0, 110.0)
    value, label, line = outputs[7], outputs[8], outputs[10]
    assert value == 25 and label == "25 %"
    assert line == "250,000 of 1,000,000 rows written \u00b7 25,000 rows/s"


def test_a_redis_that_does_not_answer_costs_the_import_nothing(engine, tmp_path):
    import redis

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    record = upload(engine, tmp_path, "s.csv", SIGNALS)
    jobs.check(engine, record["id"], dead)
    assert jobs.commit(engine, record["id"], dead)["status"] == "committed"


def test_an_upload_never_committed_is_dropped_after_a_day(engine, tmp_path):
    old = upload(engine, tmp_path, "old.csv", SIGNALS)
    with engine.begin() as conn:
        conn.execute(update(m.Import).where(m.Import.id == old["id"])
                     .values(created_at=dt.datetime(2026, 12, 1)))
    upload(engine, tmp_path, "new.csv", SIGNALS)
    assert jobs.get(engine, old["id"])["status"] == "expired"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.ImportChunk)
                            .where(m.ImportChunk.import_id == old["id"])).scalar() == 0
