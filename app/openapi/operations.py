"""Building blocks of the document's operations: query and path parameters, the documented error
responses, one operation with its roles, and the role sets of the routes."""

from __future__ import annotations

from app.openapi.json_schema import ref

# --------------------------------------------------------------------------- parameters

def query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def path_param(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


BOOL = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"], "default": "false"}
FORMAT = query("format", {"type": "string", "enum": ["json", "csv"], "default": "json"},
               "`csv`: the tabular section named by `section` as text/csv (formula-safe cells)")
SECTION = query("section", {"type": "string"},
                "with format=csv: a list-valued section, e.g. accounts, positions, signal_history, open_positions; "
                "a bad one is a 400 naming the valid sections")
FORCE = query("force_refresh", BOOL, "recompute every section, ignoring the cache")
STRATEGY_NAME = query("strategy_name", {"type": "string", "minLength": 1}, "the strategy (a developer: their own)",
                      required=True)

# --------------------------------------------------------------------------- responses

CODES = {400: "A bad parameter or body: `details` names the parameter and the valid values",
         401: "No session or bearer token (or a revoked one)",
         403: "The user's role may not use this route (or, for a developer, another developer's strategy; an "
              "ingest account may use only the ingest routes)",
         404: "Unknown strategy, run or task",
         405: "Another method than the documented one",
         413: "The body is larger than MAX_REQUEST_BYTES",
         429: "Rate limited (API_RATE_LIMIT); see Retry-After",
         500: "An unexpected failure, with an incident id in details",
         503: "The database does not answer (the body is still the health report)"}
ERROR_CONTENT = {"application/json": {"schema": ref("Error")}}
CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}}}


def ok(schema_name: str, description: str, csv: bool = False, status: int = 200) -> dict:
    content = {"application/json": {"schema": ref(schema_name)}}
    if csv:
        content.update(CSV_CONTENT)
    return {str(status): {"description": description, "content": content}}


def errors(*statuses: int) -> dict:
    # 403 on every route: an ingest account may use no route but ingest
    return {str(s): {"description": CODES[s], "content": ERROR_CONTENT}
            for s in sorted({401, 403, 405, 429, 500, *statuses})}


def operation(op_id: str, summary: str, roles: tuple[str, ...] | None, responses: dict, parameters=(), body=None,
              tag: str = "dashboards", security: bool = True, description: str | None = None) -> dict:
    text = description or summary
    if roles:
        text += f"\n\nRoles: {', '.join(roles)}."
    op = {"operationId": op_id, "summary": summary, "description": text, "tags": [tag],
          "parameters": list(parameters), "responses": responses}
    if body is not None:
        op["requestBody"] = body
    if not security:
        op["security"] = []
    if roles:
        op["x-roles"] = list(roles)
    return op


DASHBOARD_ERRORS = (400, 403)
ROLES_CLIENT = ("admin", "analyst", "client")
ROLES_SIGNALS = ("admin", "analyst", "developer")
ROLES_PAPER = ("admin", "analyst")
ROLES_ADMIN = ("admin",)
ROLES_ANY = ("admin", "analyst", "client", "developer")

PAPER_PARAMS = [
    query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 20}, "rows per list"),
    query("refresh", BOOL, "recompute every section"),
]

HEALTH_RESPONSES = {
    "200": {"description": "healthy or degraded (Redis or workers down)",
            "content": {"application/json": {"schema": ref("Health")}}},
    "503": {"description": CODES[503], "content": {"application/json": {"schema": ref("Health")}}},
}
