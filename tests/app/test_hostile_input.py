"""Hostile input, generated: query parameters (random and unicode text, huge and negative numbers,
SQL-looking text, very long strings) and JSON bodies (random JSON trees, wrong types, huge arrays up
to the body limit) sent to every documented route as an admin. Never a 5xx; always a status the
OpenAPI document lists for that route, with a body that validates against its schema."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.openapi import document
from tests.app.test_openapi import Spec, demo_facts
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures

SPEC = Spec(document())
def fuzz(max_examples: int) -> settings:
    return settings(max_examples=max_examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SQLISH = st.sampled_from(["' OR 1=1 --", "1; DROP TABLE signals; --", "\" OR \"\"=\"", "%", "_", "*", "[", "\\",
                          "' UNION SELECT password_hash FROM users --", "NULL", "null", "NaN", "Infinity", "-0",
                          "1e309", "0x10", "  7d  ", "7D", "true ", "%00", "\u202e", "👍", "ﬁ", "../../etc/passwd"])
NUMBERS = st.one_of(st.integers(min_value=-(10 ** 30), max_value=10 ** 30), st.floats(allow_nan=True)).map(str)
LONG = st.integers(min_value=1_000, max_value=20_000).map(lambda n: "A" * n)
VALUES = st.one_of(st.text(max_size=40), SQLISH, NUMBERS, LONG, st.just(""))

# the operations worth fuzzing by query: GET everywhere, and the admin POSTs that read only the query
# (a synchronous refresh rebuilds every dashboard, so only its async flag is fuzzed, mostly into a 400)
GET_OPERATIONS = sorted((path, "get") for path, item in SPEC.doc["paths"].items() if "get" in item)
QUERY_POSTS = [("/api/v1/cache/clear", "post"), ("/api/public/dashboard/clear-cache/", "post"),
               ("/api/v1/tasks/{task_id}", "delete")]  # and cancelling a sweep by any id
BODY_POSTS = ["/api/v1/backtests", "/api/v1/playback/live"]


def parameters(path: str, method: str) -> list[dict]:
    return SPEC.doc["paths"][path][method].get("parameters", [])


@st.composite
def requests(draw, operations):
    path, method = draw(st.sampled_from(operations))
    params = parameters(path, method)
    query = {}
    for param in params:
        if param["in"] == "query" and draw(st.booleans()):
            enum = param["schema"].get("enum")
            valid = st.sampled_from(enum) if enum else st.nothing()
            query[param["name"]] = draw(st.one_of(VALUES, valid) if enum else VALUES)
    if draw(st.booleans()):
        query[draw(st.text(min_size=1, max_size=20))] = draw(VALUES)
    url = path
    for param in params:
        if param["in"] == "path":
            value = draw(st.one_of(st.text(min_size=1, max_size=30), SQLISH, NUMBERS, st.just("1")).filter(
                lambda v: v not in (".", "..") and "/" not in v and "\\" not in v))
            url = url.replace("{" + param["name"] + "}", quote(value, safe=""))
    return method, url, path, query


def check(response, method: str, path: str) -> None:
    assert response.status_code < 500, (method, path, response.status_code, response.data[:500])
    SPEC.check(method.upper(), path, response)


@pytest.fixture
def admin(demo_app, users):  # noqa: F811
    client = signed_in(demo_app, "admin", users["admin"])
    client.facts = demo_facts(demo_app)
    return client


@fuzz(250)
@given(request=requests(GET_OPERATIONS + QUERY_POSTS))
def test_generated_query_parameters_never_break_a_route(admin, request):
    method, url, path, query = request
    if "strategy_name" in query and len(query) % 3 == 0:  # a real strategy too, so the other parameters matter
        query["strategy_name"] = admin.facts["strategy"]
    response = getattr(admin, method)(url, query_string=query)
    check(response, method, path)


@fuzz(40)
@given(query=st.dictionaries(st.sampled_from(["strategy_name", "start", "end", "sort", "dir", "symbol", "status",
                                              "side", "reject_reason", "sent_at", "format"]), VALUES, max_size=6))
def test_signal_pages_take_any_page_sort_and_filter_text(admin, query):
    query["strategy_name"] = admin.facts["strategy"]
    response = admin.get("/api/v1/dashboards/signal-sender/signals", query_string=query)
    check(response, "get", "/api/v1/dashboards/signal-sender/signals")


JSON_TREES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 20), max_value=10 ** 20) | st.floats(allow_nan=False)
    | st.text(max_size=30) | SQLISH,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25)
FIELDS = ["strategy", "kind", "params", "symbol", "symbols", "timeframe", "start", "end", "cash", "commission_bps",
          "slippage_bps", "bars_per_second"]
WRONG_TYPES = st.fixed_dictionaries({}, optional={
    "strategy": st.one_of(st.sampled_from(["sma_cross", "rsi_reversion", "donchian_breakout"]), JSON_TREES),
    "params": st.one_of(st.fixed_dictionaries({}, optional={"fast": JSON_TREES, "slow": JSON_TREES}), JSON_TREES),
    "symbol": st.one_of(st.sampled_from(["SPY", "QQQ", "spy", ""]), JSON_TREES),
    "symbols": st.one_of(st.lists(st.sampled_from(["SPY", "QQQ", "ZZZ"]), max_size=60), JSON_TREES),
    **{name: JSON_TREES for name in FIELDS[5:]},
})


@fuzz(80)
@given(path=st.sampled_from(BODY_POSTS), body=st.one_of(JSON_TREES, WRONG_TYPES))
def test_generated_json_bodies_never_break_a_route(admin, path, body):
    response = admin.post(path, data=json.dumps(body), content_type="application/json")
    check(response, "post", path)


@fuzz(10)
@given(path=st.sampled_from(BODY_POSTS), length=st.integers(min_value=1_000, max_value=130_000),
       garbage=st.sampled_from(["raw", "array", "params"]))
def test_huge_bodies_below_the_limit_are_refused_cleanly(admin, path, length, garbage):
    if garbage == "raw":
        data = b"\xff" * length
    elif garbage == "array":
        data = json.dumps(list(range(length))).encode()
    else:
        data = json.dumps({"strategy": "sma_cross", "symbol": "SPY", "params": {"fast": list(range(length))}}).encode()
    assert len(data) <= admin.application.config["MAX_CONTENT_LENGTH"]
    response = admin.post(path, data=data, content_type="application/json")
    check(response, "post", path)
    assert response.status_code == 400


def test_a_body_above_the_limit_is_a_413(admin):
    limit = admin.application.config["MAX_CONTENT_LENGTH"]
    for path in BODY_POSTS:
        response = admin.post(path, data=b"[" + b"0," * (limit // 2) + b"0]", content_type="application/json")
        assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"
        check(response, "post", path)
