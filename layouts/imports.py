"""The import page: bring a book in from a file. Upload, map the columns, check every row,
commit with progress, and undo from the history (callbacks/imports.py, callbacks/import_history.py)."""

from __future__ import annotations

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import components
from layouts import import_ids as ids
from layouts.import_ids import ENTITY_LABELS

dash.register_page(
    __name__,
    path="/import",
    name="Import",
    title="Import · tradeboard",
    description="Bring your book in from a file: broker exports, spreadsheets, CSV, Excel, Parquet.",
    order=6,
)

ACCEPT = ".csv,.txt,.ndjson,.jsonl,.json,.parquet,.pq,.xlsx"


def step(number: int, title: str, panel: str, body, *, step_id: str | None = None, hidden: bool = False) -> dbc.Card:
    header = html.Div([html.Span(str(number), className="badge rounded-pill text-bg-primary me-2"),
                       html.H2(title, className="h6 mb-0 me-auto"),
                       html.Small(id=ids.freshness(panel), className="text-body-secondary ms-2")],
                      className="d-flex align-items-center")
    children = body if isinstance(body, list) else [body]
    error = html.Div(id=ids.error(panel), **{"aria-live": "polite"})
    card = dbc.Card(dbc.CardBody([header, error, *children], className="d-flex flex-column gap-2"),
                    className="shadow-sm mb-3")
    return html.Div(card, id=step_id, hidden=hidden) if step_id else card


def grid(grid_id: str, height: int, **options) -> dag.AgGrid:
    return dag.AgGrid(id=grid_id, columnDefs=[], rowData=[], className="ag-theme-quartz",
                      defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 110},
                      dashGridOptions={"animateRows": False, **options},
                      style={"height": f"{height}px", "width": "100%"})


def upload_step() -> dbc.Card:
    return step(1, "Upload a file", "upload", [
        html.Div(id=ids.ROLE_NOTE),
        components.named("Choose a file to import", dcc.Upload(
            id=ids.UPLOAD,
            children=html.Div([html.Strong("Drop a file here"), " or ",
                               html.Span("choose one", className="text-primary text-decoration-underline"),
                               html.Div("CSV, NDJSON, JSON, Parquet or Excel (.xlsx), up to 300 MB",
                                        className="small text-body-secondary")]),
            accept=ACCEPT, multiple=False, className="tb-drop-zone",
        )),
        components.named("Upload progress", dbc.Progress(id=ids.UPLOAD_PROGRESS, value=0, label="",
                                                         style={"height": "1.1rem"}, className="d-none")),
        html.Div(id=ids.UPLOAD_STATUS, role="status"),
        html.Div(id=ids.FILE_SUMMARY),
    ])


def map_step() -> html.Div:
    entity_options = [{"label": label, "value": name} for name, label in ENTITY_LABELS.items()]
    return step(2, "Match the columns", "map", [
        dbc.Row([
            dbc.Col([dbc.Label("The file holds", html_for=ids.ENTITY),
                     dcc.Dropdown(id=ids.ENTITY, options=entity_options, clearable=False),
                     html.Small(id=ids.DETECTED, className="text-body-secondary")], md=4),
            dbc.Col([dbc.Label("Preset", html_for=ids.PRESET),
                     dcc.Dropdown(id=ids.PRESET, placeholder="None: match by hand")], md=4),
            dbc.Col([dbc.Label("Save this mapping as", html_for=ids.PRESET_NAME),
                     dbc.InputGroup([dbc.Input(id=ids.PRESET_NAME, placeholder="e.g. My broker's fills", maxLength=128),
                                     dbc.Button("Save preset", id=ids.SAVE_PRESET, color="secondary", n_clicks=0)]),
                     html.Div(id=ids.PRESET_STATUS, role="status")], md=4),
        ], className="g-3"),
        html.Div(id=ids.IBKR_OPTIONS, hidden=True, children=[
            dbc.Row([
                dbc.Col([dbc.Label("Strategy of orders with no signal in tradeboard", html_for=ids.STRATEGY),
                         dcc.Dropdown(id=ids.STRATEGY, placeholder="Choose a strategy")], md=6),
                dbc.Col([dbc.Label("Time zone of the file's times", html_for=ids.TIMEZONE),
                         dbc.Input(id=ids.TIMEZONE, value="America/New_York", debounce=True)], md=6),
            ], className="g-3"),
        ]),
        html.Div(id=ids.MAPPING, className="tb-mapping"),
        html.H3("Preview: the first rows as tradeboard will store them", className="h6 mt-2 mb-0"),
        html.Div(id=ids.PREVIEW_NOTE, role="status"),
        grid(ids.PREVIEW_GRID, 260),
        html.Div(dbc.Button("Check the whole file", id=ids.CHECK, color="primary", n_clicks=0)),
    ], step_id=ids.MAP_STEP, hidden=True)


def check_step() -> html.Div:
    return step(3, "Check and commit", "check", [
        html.Div(id=ids.CHECK_STATUS, role="status", **{"aria-live": "polite"}),
        html.Div(grid(ids.PROBLEMS_GRID, 280), id=f"{ids.PROBLEMS_GRID}-box", hidden=True),
        html.A("Download every bad row (CSV)", id=ids.PROBLEMS_DOWNLOAD, href="", hidden=True, download=""),
        html.Div([dbc.Button("Commit", id=ids.COMMIT, color="success", n_clicks=0, disabled=True)]),
        components.named("Rows written", dbc.Progress(id=ids.PROGRESS, value=0, style={"height": "1.4rem"},
                                                      className="d-none")),
        html.Div(id=ids.PROGRESS_LABEL, className="small text-body-secondary"),
        html.Div(id=ids.SUMMARY),
    ], step_id=ids.CHECK_STEP, hidden=True)


HISTORY_COLUMNS = [
    {"field": "id", "headerName": "#", "maxWidth": 80, "minWidth": 70, "checkboxSelection": True},
    {"field": "created_at", "headerName": "When (UTC)", "minWidth": 160},
    {"field": "username", "headerName": "Who"},
    {"field": "filename", "headerName": "File", "minWidth": 180, "tooltipField": "filename"},
    {"field": "entity", "headerName": "Entity"},
    {"field": "status", "headerName": "Status"},
    {"field": "rows", "headerName": "Rows", "type": "rightAligned"},
    {"field": "counts", "headerName": "Inserted / updated / unchanged", "minWidth": 220},
    {"field": "note", "headerName": "Note", "minWidth": 260, "tooltipField": "note", "flex": 2},
]


def history_step() -> dbc.Card:
    return step(4, "Past imports", "history", [
        html.Div([dbc.Button("Undo the selected import", id=ids.UNDO, color="danger", outline=True, n_clicks=0),
                  dbc.Button("Refresh", id=ids.HISTORY_REFRESH, color="secondary", outline=True, n_clicks=0)],
                 className="d-flex flex-wrap gap-2"),
        html.Div(id=ids.UNDO_STATUS, role="status", **{"aria-live": "polite"}),
        dag.AgGrid(id=ids.HISTORY_GRID, columnDefs=HISTORY_COLUMNS, rowData=[], className="ag-theme-quartz",
                   defaultColDef={"sortable": True, "resizable": True, "minWidth": 100},
                   dashGridOptions={"rowSelection": "single", "animateRows": False, "tooltipShowDelay": 300,
                                    "suppressColumnVirtualisation": True},
                   getRowId="params.data.id", style={"height": "320px", "width": "100%"}),
        dcc.Interval(id=ids.HISTORY_POLL, interval=1000, disabled=True),
        dcc.Store(id=ids.UNDO_PENDING),
    ])


def layout(**_kwargs):
    return dbc.Container([
        html.H1("Import", className="h4 mb-1"),
        html.P("Bring your book in from a broker's export or a spreadsheet. Nothing is written until every row "
               "checks out, and an import that only added rows can be undone.", className="text-body-secondary"),
        dcc.Store(id=ids.CURRENT),
        dcc.Interval(id=ids.POLL, interval=700, disabled=True),
        upload_step(), map_step(), check_step(), history_step(),
    ], fluid=True, className="py-3")
