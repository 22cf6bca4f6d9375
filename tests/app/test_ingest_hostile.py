"""Hostile ingest batches, generated: every entity, rows mixing valid values, real references from
the demo book, wrong types, SQL-looking and unicode text, huge numbers, bad times; sent as JSON,
NDJSON, CSV or garbage bytes, under right and wrong Content-Types. Never a 5xx; always a status the
OpenAPI document lists, with a body its schema accepts; a 200 counts every row it received, a 400
writes nothing."""

from __future__ import annotations

import csv
import os
import io
import json

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from data_access.ingest import ENTITIES
from data_access.models import Account, PaperTrade, Signal, Strategy
from tests.app.test_hostile_input import JSON_TREES, SPEC, SQLISH, fuzz
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures

TIMES = st.sampled_from(["2026-12-04T14:30:00Z", "2026-12-04", "2026-12-04T14:30:00.123+02:00", "yesterday",
                         "2026-13-45T99:99:99Z", "1733580000", "", " "])
NUMBERS = st.one_of(st.integers(min_value=-(10 ** 25), max_value=10 ** 25), st.floats(allow_nan=True),
                    st.sampled_from(["1e309", "-0", "NaN", "12,5", "1_000", " 7 "]))
CHOICES = st.sampled_from(["BUY", "sell", "BYU", "FILLED", "pending", "long", "SHORT", "ENTRY", "EXECUTED", "1d",
                           "ACTIVE", ""])


def value_for(field, names: dict[str, list[str]]):
    known = names.get(field.name, [])
    typed = {"time": TIMES, "date": TIMES, "choice": CHOICES}.get(field.kind)
    if typed is None:
        typed = NUMBERS if field.kind in ("number", "positive", "nonneg", "fraction") else st.text(max_size=70)
    options = [typed, SQLISH, JSON_TREES, st.none()]
    if known:
        options.insert(0, st.sampled_from(known))
    return st.one_of(*options)


@st.composite
def batches(draw, names):
    entity = ENTITIES[draw(st.sampled_from(sorted(ENTITIES)))]
    fields = {f.name: f for f in entity.fields}
    rows = draw(st.lists(st.fixed_dictionaries(
        {}, optional={name: value_for(f, names) for name, f in fields.items()}), max_size=6))
    if draw(st.booleans()):
        rows.append(draw(JSON_TREES))
    return entity.name, rows


def encode(rows, how: str) -> tuple[bytes, str, int]:
    """The body, its Content-Type and how many rows it holds."""
    if how == "json":
        return json.dumps(rows).encode(), "application/json", len(rows)  # NaN and 10**25 as Python writes them
    if how == "ndjson":
        return "\n".join(json.dumps(r) for r in rows).encode(), "application/x-ndjson", len(rows)
    if how == "csv":
        dicts = [r for r in rows if isinstance(r, dict)]
        header = sorted({str(k) for r in dicts for k in r})
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        for r in dicts:
            writer.writerow(["" if r.get(k) is None else str(r.get(k)) for k in header])
        return out.getvalue().encode(), "text/csv", len(dicts) if header else 0
    return bytes(range(256)) * 3, how, 0  # garbage under a type it claims


def demo_names(dash_app) -> dict[str, list[str]]:
    with dash_app.server.extensions["tradeboard"].session() as session:
        return {"strategy_name": session.scalars(select(Strategy.name).limit(3)).all(),
                "account_name": session.scalars(select(Account.name).limit(3)).all(),
                "signal_id": session.scalars(select(Signal.signal_id).limit(3)).all(),
                "trade_id": session.scalars(select(PaperTrade.external_id).limit(3)).all()}


def counts(dash_app) -> tuple[int, int]:
    with dash_app.server.extensions["tradeboard"].session() as session:
        return (session.scalar(select(func.count()).select_from(Signal)),
                session.scalar(select(func.count()).select_from(Account)))


def test_generated_batches_never_break_ingest(demo_app, users):  # noqa: F811
    admin = signed_in(demo_app, "admin", users["admin"])
    names = demo_names(demo_app)

    @fuzz(int(os.environ.get("TRADEBOARD_FUZZ_EXAMPLES", "150")))
    @given(batch=batches(names), how=st.sampled_from(["json", "ndjson", "csv", "application/json", "text/csv",
                                                      "application/vnd.apache.parquet", "text/plain"]))
    def send(batch, how):
        entity, rows = batch
        data, content_type, n = encode(rows, how)
        before = counts(demo_app)
        response = admin.post(f"/api/v1/ingest/{entity}", data=data, content_type=content_type)
        path = f"/api/v1/ingest/{entity}"
        assert response.status_code < 500, (entity, how, response.status_code, response.data[:500])
        SPEC.check("POST", path, response)
        if response.status_code == 200:
            assert response.get_json()["received"] == n
        else:
            assert counts(demo_app) == before

    send()
