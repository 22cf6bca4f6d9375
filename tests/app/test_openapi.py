"""The OpenAPI 3.1 document at /api/v1/openapi.json: valid, complete (every /api/v1 route of the
url_map and nothing else), and true: every route's real responses on demo data - successes and the
documented errors - validate against their schemas (JSON Schema 2020-12, `$ref`s resolved into the
document's components). /api/docs serves Swagger UI from this origin only."""

from __future__ import annotations

import re
import uuid

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.auth import create_user
from app.openapi import document
from data_access.models import BacktestRun, Strategy, User
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures

DOC_URI = "urn:tradeboard:openapi"


class Spec:
    """The document with a validator for the response of any operation and status."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.registry = Registry().with_resource(DOC_URI, Resource.from_contents(doc, DRAFT202012))
        self.templates = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in doc["paths"]]

    def template(self, path: str) -> str:
        for pattern, template in self.templates:
            if pattern.match(path):
                return template
        raise AssertionError(f"{path} is not documented")

    def check(self, method: str, path: str, response) -> None:
        """The response's status and content type are documented for this operation, and a JSON body
        validates against its schema."""
        template = self.template(path.split("?")[0])
        item = self.doc["paths"][template]
        if method.lower() not in item and response.status_code == 405:  # documented on the path's operations
            method = next(iter(item)).upper()
        operation = item.get(method.lower())
        assert operation is not None, f"{method} {template} is not documented"
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method} {path} answered {status}, documented: {sorted(operation['responses'])}: {response.data[:300]}")
        content = operation["responses"][status]["content"]
        assert response.mimetype in content, f"{method} {path} {status}: {response.mimetype} not in {list(content)}"
        if response.mimetype != "application/json":
            return
        pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in (
            "paths", template, method.lower(), "responses", status, "content", "application/json", "schema"))
        validator = Draft202012Validator({"$ref": f"{DOC_URI}#/{pointer}"}, registry=self.registry)
        problems = sorted(validator.iter_errors(response.get_json()), key=lambda e: list(e.absolute_path))
        assert not problems, f"{method} {path} {status}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in problems[:5])


@pytest.fixture
def spec() -> Spec:
    return Spec(document())


def add_user(dash_app, username: str, role: str) -> str:
    password = f"{role}-password-{uuid.uuid4().hex[:8]}"
    with dash_app.server.extensions["tradeboard"].session() as session:
        create_user(session, username, role, password=password)
    return password


def demo_facts(dash_app) -> dict:
    with dash_app.server.extensions["tradeboard"].session() as session:
        strategies = [s.name for s in session.query(Strategy).order_by(Strategy.id)]
        run_id = session.query(BacktestRun.id).order_by(BacktestRun.id).first()[0]
        failed_run_id = session.query(BacktestRun.id).filter(BacktestRun.number_of_trades.is_(None)).order_by(
            BacktestRun.id).first()[0]  # a failed run: no trade count
        sweep_member_id = session.query(BacktestRun.id).filter(BacktestRun.sweep_id.is_not(None),
                                                               BacktestRun.number_of_trades.is_not(None)).first()[0]
    return {"strategy": strategies[0], "other_strategy": strategies[1], "run_id": run_id,
            "failed_run_id": failed_run_id, "sweep_member_id": sweep_member_id}


def give_strategy_to(dash_app, username: str, strategy_name: str) -> None:
    with dash_app.server.extensions["tradeboard"].session() as session:
        user = session.query(User).filter_by(username=username).one()
        session.query(Strategy).filter_by(name=strategy_name).one().developer_id = user.id


# --------------------------------------------------------------------------- the document


def test_the_document_is_valid_openapi_3_1(client, spec):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    doc = response.get_json()
    assert doc["openapi"] == "3.1.0" and doc == spec.doc
    validate_spec(doc)  # raises on an invalid document


def schema_objects(doc: dict) -> dict[str, dict]:
    """Every Schema Object of the document by its location: components, parameters, request bodies,
    responses and their headers."""
    found = {f"#/components/schemas/{name}": schema for name, schema in doc["components"]["schemas"].items()}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                found[f"{where} parameter {parameter['name']}"] = parameter["schema"]
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                found[f"{where} body {media}"] = content["schema"]
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    found[f"{where} {status} {media}"] = content["schema"]
                for name, header in response.get("headers", {}).items():
                    found[f"{where} {status} header {name}"] = header["schema"]
    return found


def test_every_schema_in_the_document_is_valid_json_schema_2020_12(spec):
    """The document claims JSON Schema 2020-12 (OpenAPI 3.1): each schema passes its metaschema, so a
    tuple is `prefixItems` (the draft-4 array form of `items` fails here)."""
    schemas = schema_objects(spec.doc)
    assert len(schemas) > 200
    problems = {}
    for where, schema in schemas.items():
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            problems[where] = f"{'/'.join(map(str, exc.absolute_path))}: {exc.message[:200]}"
    assert not problems, problems
    fills = spec.doc["components"]["schemas"]["PlaybackChunk"]["properties"]["ev"]["items"]
    assert len(fills["prefixItems"]) == 5 and "items" not in fills


def test_every_api_v1_route_is_documented_and_nothing_else(app, spec):
    routes = set()
    for rule in app.server.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, item in spec.doc["paths"].items() if p.startswith("/api/v1/") for m in item}
    assert routes == documented, f"undocumented: {routes - documented}; not in the url_map: {documented - routes}"
    others = {p for p in spec.doc["paths"] if not p.startswith("/api/v1/")}
    rules = {r.rule for r in app.server.url_map.iter_rules()}
    assert others <= rules, others - rules


def test_every_closed_object_says_so(spec):
    """Objects with named properties forbid others, so a renamed or extra field fails validation."""
    def walk(node, where):
        if isinstance(node, dict):
            if "properties" in node:
                assert node.get("additionalProperties") is False, where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    schemas = spec.doc["components"]["schemas"]
    rows = {name for name in schemas if name.startswith("Ingest") and name.endswith("Row")}
    for name in rows:  # ingested rows may carry other columns: ignored, and named in the answer
        assert schemas[name]["additionalProperties"] is True, name
    walk({name: schema for name, schema in schemas.items() if name not in rows}, "#/components/schemas")


def test_the_document_needs_a_user(app):
    response = app.server.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


# --------------------------------------------------------------------------- real responses


def test_every_route_answers_what_the_document_says(demo_app, users, spec):  # noqa: F811
    facts = demo_facts(demo_app)
    admin = signed_in(demo_app, "admin", users["admin"])
    strategy = facts["strategy"]
    run_id = facts["run_id"]

    def call(method: str, path: str, expected: int, **kwargs):
        response = getattr(admin, method)(path, **kwargs)
        assert response.status_code == expected, (method, path, response.status_code, response.data[:300])
        spec.check(method.upper(), path, response)
        return response

    call("get", "/api/v1/health", 200)
    for time_range in ("7d", "all"):
        call("get", f"/api/v1/dashboards/client?time_range={time_range}", 200)
    call("get", "/api/v1/dashboards/client?force_refresh=true", 200)
    call("get", "/api/v1/dashboards/client?format=csv&section=accounts", 200)
    call("get", f"/api/v1/dashboards/signal-sender?strategy_name={strategy}", 200)
    call("get", f"/api/v1/dashboards/signal-sender?strategy_name={strategy}&time_range=all", 200)
    call("get", f"/api/v1/dashboards/signal-sender/signals?strategy_name={strategy}&start=0&end=50&sort=symbol&dir=desc",
         200)
    call("get", f"/api/v1/dashboards/signal-sender/signals?strategy_name={strategy}&status=fill&format=csv", 200)
    call("get", "/api/v1/dashboards/paper-trading?limit=500", 200)
    call("get", "/api/v1/dashboards/paper-trading/lite", 200)
    call("get", "/api/v1/dashboards/strategy-performance?time_range=all", 200)
    call("get", "/api/v1/dashboards/strategy-performance?time_range=7d", 200)
    call("get", f"/api/v1/backtests/{run_id}", 200)
    page = call("get", "/api/v1/backtests?limit=3&status=COMPLETED", 200).get_json()
    call("get", f"/api/v1/backtests?limit=3&cursor={page['next_cursor']}&strategy=sma_cross&symbol=spy", 200)
    call("get", f"/api/v1/playback/runs/{run_id}", 200)
    call("get", f"/api/v1/playback/runs/{facts['failed_run_id']}", 200)
    call("get", f"/api/v1/playback/runs/{facts['failed_run_id']}/chunk?start=0&count=50", 200)
    call("get", f"/api/v1/backtests/{facts['failed_run_id']}", 200)
    member = call("get", f"/api/v1/backtests/{facts['sweep_member_id']}", 200).get_json()  # with its split metrics
    assert member["metrics"]["out_of_sample_window"]
    call("get", f"/api/v1/playback/runs/{run_id}/chunk?start=0&count=10000", 200)
    started = call("post", "/api/v1/backtests", 202,
                   json={"strategy": "sma_cross", "params": {"fast": [5, 10], "slow": 30}, "symbol": "SPY"}).get_json()
    call("get", f"/api/v1/tasks/{started['task_id']}", 200)
    call("delete", f"/api/v1/tasks/{started['task_id']}", 200)
    live = call("post", "/api/v1/playback/live", 202,
                json={"symbol": "SPY", "strategy": "sma_cross", "params": {"fast": 5, "slow": 30}}).get_json()
    call("get", f"{live['poll_url']}?after=0&max=10", 200)
    call("post", "/api/v1/cache/clear?pattern=client*", 200)
    call("post", "/api/v1/cache/clear", 200)
    call("post", "/api/v1/dashboards/refresh?async=true", 202)
    call("post", "/api/v1/dashboards/refresh", 200)
    metrics = call("get", "/metrics", 200)
    assert metrics.mimetype == "text/plain"
    # the compatibility routes
    call("get", "/api/dashboards/client", 200)
    call("get", f"/api/dashboards/signal-sender?strategy_name={strategy}", 200)
    call("get", "/health", 200)
    call("get", "/api/strategy/performance/?time_range=90d&force_refresh=true", 200)
    call("get", "/api/public/dashboard/v2/?refresh=true&limit=5", 200)
    call("get", "/api/public/dashboard/lite/", 200)
    call("get", "/api/dashboard", 200)
    call("post", "/api/public/dashboard/clear-cache/", 200)
    call("post", "/api/dashboards/refresh", 200)

    # 400: a bad parameter or body
    for path in ["/api/v1/dashboards/client?time_range=2w", "/api/v1/dashboards/client?force_refresh=maybe",
                 "/api/v1/dashboards/client?format=xml", "/api/v1/dashboards/client?format=csv&section=nope",
                 "/api/v1/dashboards/signal-sender", f"/api/v1/dashboards/signal-sender?strategy_name={strategy}&time_range=x",
                 f"/api/v1/dashboards/signal-sender/signals?strategy_name={strategy}&start=-1",
                 f"/api/v1/dashboards/signal-sender/signals?strategy_name={strategy}&end=100000",
                 f"/api/v1/dashboards/signal-sender/signals?strategy_name={strategy}&sort=password",
                 "/api/v1/dashboards/paper-trading?limit=0", "/api/v1/dashboards/paper-trading?refresh=2",
                 "/api/v1/dashboards/strategy-performance?time_range=1y",
                 "/api/v1/dashboards/strategy-performance?heatmap_kind=sma_cross&heatmap_x=nope",
                 f"/api/v1/playback/runs/{run_id}/chunk?count=abc", f"{live['poll_url']}?max=x",
                 f"{live['poll_url']}?after=yesterday", "/api/v1/backtests?status=done",
                 "/api/v1/backtests?cursor=nope", "/api/v1/backtests?limit=0"]:
        call("get", path, 400)
    call("post", "/api/v1/cache/clear?pattern=%20;DROP", 400)
    call("post", "/api/v1/cache/clear?family=nope", 400)
    call("post", "/api/v1/dashboards/refresh?async=perhaps", 400)
    call("post", "/api/v1/backtests", 400, json={"strategy": "nope", "symbol": "SPY"})
    call("post", "/api/v1/backtests", 400, data="not json", content_type="application/json")
    call("post", "/api/v1/playback/live", 400, json={"symbol": "SPY", "strategy": "nope"})
    call("post", "/api/v1/playback/live", 400, json=[1, 2])
    # 404: unknown strategy, run, task, live run
    call("get", "/api/v1/dashboards/signal-sender?strategy_name=Nope", 404)
    call("get", "/api/v1/dashboards/signal-sender/signals?strategy_name=Nope", 404)
    call("get", "/api/v1/backtests/999999", 404)
    call("get", "/api/v1/backtests/abc", 404)
    call("get", "/api/v1/tasks/nope", 404)
    call("delete", "/api/v1/tasks/nope", 404)
    call("get", "/api/v1/playback/runs/999999", 404)
    call("get", "/api/v1/playback/runs/999999/chunk", 404)
    call("get", "/api/v1/playback/live/nope", 404)
    # 405
    call("delete", "/api/v1/dashboards/client", 405)
    call("put", "/api/v1/backtests", 405)
    # 413
    call("post", "/api/v1/backtests", 413, data=b"[" + b"1," * 600_000 + b"1]", content_type="application/json")


def test_errors_without_credentials_and_for_roles_that_may_not(demo_app, users, spec):  # noqa: F811
    facts = demo_facts(demo_app)
    anonymous = demo_app.server.test_client()
    for method, path in [("get", "/api/v1/dashboards/client"), ("get", "/api/v1/openapi.json"),
                         ("post", "/api/v1/backtests"), ("get", f"/api/v1/backtests/{facts['run_id']}"),
                         ("get", "/metrics"), ("get", "/api/dashboard"), ("post", "/api/v1/cache/clear")]:
        response = getattr(anonymous, method)(path)
        assert response.status_code == 401, (path, response.status_code)
        spec.check(method.upper(), path, response)
    bad_token = anonymous.get("/api/v1/dashboards/client", headers={"Authorization": "Bearer tb_nope"})
    assert bad_token.status_code == 401
    spec.check("GET", "/api/v1/dashboards/client", bad_token)

    client_user = signed_in(demo_app, "viewer", add_user(demo_app, "viewer", "client"))
    for method, path in [("get", f"/api/v1/dashboards/signal-sender?strategy_name={facts['strategy']}"),
                         ("get", "/api/v1/dashboards/paper-trading"), ("post", "/api/v1/backtests"),
                         ("get", f"/api/v1/playback/runs/{facts['run_id']}"), ("post", "/api/v1/dashboards/refresh"),
                         ("get", "/metrics"), ("get", "/api/public/dashboard/lite/")]:
        response = getattr(client_user, method)(path)
        assert response.status_code == 403, (path, response.status_code)
        spec.check(method.upper(), path, response)
    give_strategy_to(demo_app, "dev", facts["strategy"])
    developer = signed_in(demo_app, "dev", "developer-password-123")
    path = f"/api/v1/dashboards/signal-sender?strategy_name={facts['other_strategy']}"
    response = developer.get(path)
    assert response.status_code == 403, response.data[:300]
    spec.check("GET", path, response)


# --------------------------------------------------------------------------- /api/docs


def test_the_docs_page_loads_swagger_ui_from_this_origin_only(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts, "no scripts"
    for attributes, body in scripts:
        assert not body.strip(), "inline script: the CSP would block it"
        src = re.search(r'src="([^"]+)"', attributes).group(1)
        assert src.startswith("/") and not src.startswith("//"), src
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.data) > 100, src
    for href in re.findall(r'href="([^"]+)"', html):
        assert href.startswith("/") and not href.startswith("//") and client.get(href).status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "http" not in csp.split("script-src")[1].split(";")[0]
    assert 'data-url="/api/v1/openapi.json"' in html


def test_request_schemas_state_the_parameter_ranges_the_api_enforces(demo_app, users, spec):  # noqa: F811
    """Per strategy kind: a body at each parameter's bounds validates against the document and is
    accepted (202); one step outside fails both the document and the API (400)."""
    from analytics.backtest import STRATEGIES

    admin = signed_in(demo_app, "admin", users["admin"])
    schemas = {"/api/v1/backtests": "BacktestRequest", "/api/v1/playback/live": "LiveRequest"}
    validators = {path: Draft202012Validator({"$ref": f"{DOC_URI}#/components/schemas/{name}"},
                                             registry=spec.registry) for path, name in schemas.items()}
    for kind in STRATEGIES.values():
        numeric = [p for p in kind.params if p.type != "bool"]
        for param in numeric:
            for value, accepted in ((param.min, True), (param.max, True), (param.min - 1, False),
                                    (param.max + 1, False)):
                params = {param.name: value}
                if kind.name == "sma_cross":  # the rule between parameters: fast below slow
                    params = {"fast": 2, "slow": 400, **params}
                if kind.name == "rsi_reversion":
                    params = {"lower": 10.0, "upper": 90.0, **params}
                for path, validator in validators.items():
                    body = {"strategy": kind.name, "params": params, "symbol": "SPY"}
                    assert validator.is_valid(body) is accepted, (path, body)
                    response = admin.post(path, json=body)
                    assert response.status_code == (202 if accepted else 400), (path, body, response.data[:200])
