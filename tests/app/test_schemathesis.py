"""schemathesis against the app on demo data, as an integrator would run it: its fuzzing and
stateful phases (the stateful one follows the document's links from POST to the readers) with the
checks not_a_server_error, response_schema_conformance, status_code_conformance and
content_type_conformance. Two fixed seeds, so every run of the suite is the same two runs;
TRADEBOARD_SCHEMATHESIS_SEED runs one other seed instead."""

from __future__ import annotations

import functools
import os

import pytest
import schemathesis
from schemathesis.specs.openapi.adapter import responses as schemathesis_responses
from schemathesis.engine import events, from_schema

from app.auth import create_token
from tests.app.test_openapi import demo_facts
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures

SEEDS = [int(os.environ["TRADEBOARD_SCHEMATHESIS_SEED"])] if "TRADEBOARD_SCHEMATHESIS_SEED" in os.environ else [
    20261207, 4242]
CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance", "content_type_conformance")


def config(token: str, seed: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": seed,
        "headers": {"Authorization": f"Bearer {token}"},
        "generation": {"max-examples": 10, "database": "none", "mode": "all"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": True, "max-steps": 6}},
        # a refresh rebuilds every dashboard (~0.5 s an example, half of a run at 10): fewer examples there
        "operations": [{"include-path-regex": "^/api(/v1)?/dashboards/refresh$",
                        "generation": {"max-examples": 3}}],
    })


@pytest.fixture
def response_tuples_kept(monkeypatch):
    """schemathesis (4.32.5) rewrites a response schema's ``prefixItems`` into the draft-4 array form of
    ``items`` and then validates responses with a 2020-12 validator, which rejects that form: every
    response of an operation with a tuple (the playback chunk's fills) ends in "Invalid Schema
    Object in response definition". Its converter already takes ``convert_prefix_items=False`` for
    request parameters validated against 2020-12; responses get the same here."""
    original = schemathesis_responses.to_json_schema
    monkeypatch.setattr(schemathesis_responses, "to_json_schema",
                        functools.partial(original, convert_prefix_items=False))


def describe(label: str, check) -> str:
    failure = check.failure_info.failure
    first_line = (failure.message.splitlines() or [""])[0][:200]
    where = failure.message.split("Schema at ")[-1].split(":")[0] if "Schema at " in failure.message else ""
    return f"{label}: {check.name}: {failure.title}: {first_line} {where}\n    {check.failure_info.code_sample[:400]}"


def run(dash_app, seed: int) -> list[str]:
    """Every check failure and engine error of one run, as readable lines."""
    with dash_app.server.extensions["tradeboard"].session() as session:
        token = create_token(session, "admin", "schemathesis")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", dash_app.server, config=config(token, seed),
                                            headers={"Authorization": f"Bearer {token}"})
    problems = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            problems += [describe(event.recorder.label, check) for checks in event.recorder.checks.values()
                         for check in checks if check.failure_info is not None]
        elif isinstance(event, events.NonFatalError):
            problems.append(f"error in {event.label}: {event.value!r}"[:600])
        elif isinstance(event, events.FatalError):
            problems.append(f"fatal: {event.exception!r}"[:600])
    return problems


@pytest.mark.parametrize("seed", SEEDS)
def test_schemathesis_fuzzing_and_stateful_runs_find_nothing(demo_app, response_tuples_kept, seed):  # noqa: F811
    problems = run(demo_app, seed)
    assert not problems, "\n".join(sorted(set(problems)))


def test_a_chunk_start_beyond_any_run_is_a_400_not_a_server_error(demo_app, users):  # noqa: F811
    """Found by schemathesis: a start past 2**63 overflowed the SQLite driver (500)."""
    admin = signed_in(demo_app, "admin", users["admin"])
    run_id = demo_facts(demo_app)["run_id"]
    past_the_end = admin.get(f"/api/v1/playback/runs/{run_id}/chunk?start={2 ** 31 - 1}&count=10")
    assert past_the_end.status_code == 200 and past_the_end.get_json()["count"] == 0
    for start in (2 ** 31, 2 ** 64, 10 ** 36):
        response = admin.get(f"/api/v1/playback/runs/{run_id}/chunk?start={start}")
        assert response.status_code == 400, (start, response.status_code)
        assert response.get_json()["error"]["code"] == "invalid_request"
