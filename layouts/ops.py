"""The operations page: is the system healthy? Health of its parts, request figures per endpoint,
cache hit rate per data family, cached keys with their age, task runs, and the admin's controls."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import components
from layouts import ops_ids as ids
from layouts.components import number_column

dash.register_page(
    __name__,
    path="/ops",
    name="Ops",
    title="Operations · tradeboard",
    description="Is the system healthy? Latency per endpoint, slow requests, cache hit rate, cache ages, task runs.",
    order=90,
)

_MS = ",.1f"
_TIME = {"minWidth": 165}


def panel(key: str, title: str, body, *, extra=None) -> dbc.Card:
    return components.panel(title, ids.freshness(key), ids.error(key), body, extra=extra)


def num(field: str, header: str, fmt: str = ",d", **extra) -> dict:
    """A right-aligned number column without a filter (the filter icon would eat a narrow header)."""
    return {**number_column(field, header, fmt), "filter": False, "minWidth": 78, **extra}


def grid(grid_id: str, columns: list[dict], height: int = 300, **options) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 90},
        columnSize="responsiveSizeToFit",
        dashGridOptions={"animateRows": False, "tooltipShowDelay": 300, **options},
        csvExportParams={"fileName": f"{grid_id.removeprefix('ops-')}.csv"},
        className="ag-theme-quartz",
        style={"height": f"{height}px", "width": "100%"},
    )


# the runs grid's text while no task has run (AG Grid's own overlay, plain text)
NO_RUNS = ("No task has run yet: tasks run on a Celery worker on beat's schedule (tradeboard run starts both; "
           "elsewhere: celery -A tasks worker, celery -A tasks beat).")

REQUEST_COLUMNS = [
    {"field": "endpoint", "headerName": "Endpoint", "pinned": "left", "minWidth": 220, "tooltipField": "endpoint"},
    num("count", "Count", headerTooltip="Requests in the window"),
    num("p50_ms", "p50", _MS, headerTooltip="Median duration in the window, ms"),
    num("p95_ms", "p95", _MS, headerTooltip="95th percentile duration in the window, ms"),
    num("p99_ms", "p99", _MS, headerTooltip="99th percentile duration in the window, ms"),
    num("max_ms", "max", _MS, headerTooltip="Slowest request in the window, ms"),
    num("errors", "5xx", headerTooltip="Server errors in the window"),
    num("client_errors", "4xx", headerTooltip="Client errors (refused, not found, bad parameters) in the window"),
    num("slow", "Slow", headerTooltip="Requests over SLOW_REQUEST_SECONDS in the window"),
    num("total_count", "Total", minWidth=90, headerTooltip="Requests since the figures began"),
]

FAMILY_COLUMNS = [
    {"field": "family", "headerName": "Family", "pinned": "left", "minWidth": 120},
    num("hits", "Hits"),
    num("misses", "Misses"),
    num("hit_rate_pct", "Hit rate", ".1f", valueFormatter={
        "function": "params.value == null ? '—' : d3.format('.1f')(params.value) + ' %'"}),
    num("generation", "Gen.", minWidth=70, headerTooltip="Generation: bumped by every write (or Clear family)"),
]

TASK_COLUMNS = [
    {"field": "task_short", "headerName": "Task", "pinned": "left", "minWidth": 200, "tooltipField": "task"},
    {"field": "schedule", "headerName": "Schedule", "minWidth": 150},
    {"field": "last_status", "headerName": "Status", "minWidth": 100,
     "cellClassRules": {"text-danger fw-semibold": "params.value == 'failure'",
                        "text-success": "params.value == 'success'"}},
    {"field": "last_start_text", "headerName": "Last start (UTC)", **_TIME},
    num("last_duration_ms", "ms", _MS, minWidth=96, headerTooltip="Duration of the last run, ms"),
    {"field": "last_success_text", "headerName": "Last success (UTC)", **_TIME},
    {"field": "next_run_text", "headerName": "Next run", "minWidth": 110, "filter": False,
     "headerTooltip": "Estimated from the last start and the schedule"},
    num("runs", "Runs"),
    num("failures", "Failed", minWidth=84),
    num("retries", "Retries", minWidth=84),
    {"field": "last_error", "headerName": "Last error", "minWidth": 180, "tooltipField": "last_error"},
]

RUN_COLUMNS = [
    {"field": "finished_text", "headerName": "Finished (UTC)", **_TIME},
    {"field": "task_short", "headerName": "Task", "minWidth": 200, "tooltipField": "task"},
    {"field": "status", "headerName": "Status",
     "cellClassRules": {"text-danger fw-semibold": "params.value == 'failure'",
                        "text-success": "params.value == 'success'"}},
    num("duration_ms", "ms", _MS, headerTooltip="Duration, ms"),
    {"field": "error", "headerName": "Error", "minWidth": 200, "tooltipField": "error"},
]

KEY_COLUMNS = [
    {"field": "section", "headerName": "Section", "pinned": "left", "minWidth": 170},
    {"field": "family", "headerName": "Families", "minWidth": 130},
    {"field": "tier", "headerName": "Tier", "minWidth": 80},
    {"field": "args", "headerName": "Arguments", "minWidth": 160, "tooltipField": "key"},
    num("age_seconds", "Age s", ",.0f", headerTooltip="Seconds since the value was computed"),
    num("ttl_left_seconds", "TTL left s", ",.0f", minWidth=96, headerTooltip="Seconds until Redis drops the key"),
    {"field": "state", "headerName": "State", "minWidth": 110,
     "cellClassRules": {"text-warning-emphasis": "params.value == 'stale'",
                        "text-body-secondary fst-italic": "params.value == 'superseded'"}},
    num("bytes", "Bytes"),
]


def toolbar() -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(html.H1("Operations", className="h4 mb-0"), xs=12, md="auto", className="me-md-auto"),
            components.refresh_picker(ids.REFRESH_EVERY, value="5"),
            dbc.Col(dbc.Button("Reload", id=ids.REFRESH_NOW, size="sm", color="primary",
                               title="Read every figure again now"), xs="auto"),
        ],
        className="g-2 align-items-center mb-3",
    )


def controls() -> dbc.Card:
    """Admin controls: shown to every viewer, enforced in their callbacks (admins only)."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div([html.H2("Controls", className="h6 mb-0 me-auto"),
                          dbc.Badge("admin only", color="secondary", className="fw-normal")],
                         className="d-flex align-items-center gap-2"),
                dbc.Row(
                    [
                        dbc.Col(dbc.Button("Refresh dashboards now", id=ids.REFRESH_DASHBOARDS, color="primary",
                                           size="sm", className="w-100",
                                           title="Rebuild every dashboard from the database (with force)"),
                                xs=12, md="auto"),
                        dbc.Col(dbc.InputGroup(
                            [components.group_label("Family", ids.CLEAR_FAMILY),
                             dbc.Select(id=ids.CLEAR_FAMILY, options=[], placeholder="choose…"),
                             dbc.Button("Clear family", id=ids.CLEAR_FAMILY_BUTTON, color="danger", outline=True,
                                        title="Bump the family's generation: every cached section reading it misses next time")],
                            size="sm"), xs=12, md=6, lg=5),
                    ],
                    className="g-2 align-items-center",
                ),
                dcc.Loading(html.Div(id=ids.REFRESH_RESULT, className="small"), type="dot", delay_show=300),
                html.Div(id=ids.CLEAR_RESULT, className="small"),
            ],
            className="d-flex flex-column gap-2",
        ),
        className="shadow-sm",
    )


def layout(**_kwargs):
    chart_config = {**components.CHART_CONFIG, "displayModeBar": False}
    health = dbc.Row(
        [
            dbc.Col(components.kpi_card(label, definition, label_id=ids.health_label(key),
                                        value_id=ids.health_value(key), sub_id=ids.health_sub(key)),
                    xs=6, md=4, xl=True)
            for key, label, definition in ids.HEALTH_CARDS
        ],
        className="g-2",
    )
    return dbc.Container(
        [
            toolbar(),
            dcc.Store(id=ids.DOCUMENT),
            dcc.Store(id=ids.ACTION_DONE, data=0),
            *components.refresh_timers(ids.TICK, ids.CLOCK),
            html.Div(id=ids.STATUS),
            html.Div(id=ids.EMPTY),
            health,
            dbc.Row(dbc.Col(controls()), className="g-3 mt-1"),
            dbc.Row(
                [
                    dbc.Col(panel("requests", "Requests per endpoint",
                                  html.Div([html.Small(id=ids.WINDOW_NOTE, className="text-body-secondary d-block mb-2"),
                                            grid(ids.REQUESTS_GRID, REQUEST_COLUMNS, 320)]),
                                  extra=components.csv_button(ids.csv_button(ids.REQUESTS_GRID))), xl=8),
                    dbc.Col(components.panel("p95 per endpoint (ms)", "ops-p95-freshness", "ops-p95-error",
                                             components.chart(dcc.Graph(id=ids.P95_CHART, config=chart_config,
                                                                        style={"height": "340px"}),
                                                              "p95 per endpoint (ms)")), xl=4),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(
                [
                    dbc.Col(panel("families", "Cache hit rate per data family",
                                  grid(ids.FAMILIES_GRID, FAMILY_COLUMNS, 300),
                                  extra=components.csv_button(ids.csv_button(ids.FAMILIES_GRID))), lg=6),
                    dbc.Col(components.panel("Hit rate (%)", "ops-hit-rate-freshness", "ops-hit-rate-error",
                                             components.chart(dcc.Graph(id=ids.HIT_RATE_CHART, config=chart_config,
                                                                        style={"height": "300px"}),
                                                              "Cache hit rate (%)")), lg=6),
                ],
                className="g-3 mt-1",
            ),
            dbc.Row(
                dbc.Col(panel("tasks", "Scheduled and recorded tasks", grid(ids.TASKS_GRID, TASK_COLUMNS, 300),
                              extra=components.csv_button(ids.csv_button(ids.TASKS_GRID)))),
                className="g-3 mt-1",
            ),
            dbc.Row(
                dbc.Col(panel("runs", "Recent task runs and failures",
                              grid(ids.RUNS_GRID, RUN_COLUMNS, 240, localeText={"noRowsToShow": NO_RUNS}),
                              extra=components.csv_button(ids.csv_button(ids.RUNS_GRID)))),
                className="g-3 mt-1",
            ),
            dbc.Row(
                dbc.Col(panel("keys", "Cached sections",
                              html.Div([html.Small(id=ids.KEYS_NOTE, className="text-body-secondary d-block mb-2"),
                                        grid(ids.KEYS_GRID, KEY_COLUMNS, 360)]),
                              extra=components.csv_button(ids.csv_button(ids.KEYS_GRID)))),
                className="g-3 mt-1 mb-4",
            ),
        ],
        fluid=True,
        className="py-3",
    )
