"""The landing page: one card per dashboard, and the system status strip."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import home_ids as ids

dash.register_page(
    __name__,
    path="/",
    name="Home",
    title="tradeboard",
    description="Every dashboard in one place, and whether the system behind them is healthy.",
    order=0,
)

STATUS_REFRESH_MS = 15_000


def dashboard_card(page: dict) -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.H2(page["name"], className="h5 card-title"),
                    html.P(page.get("description") or "", className="card-text text-body-secondary flex-grow-1"),
                    dcc.Link(f"Open {page['name']}", href=page["relative_path"],
                             className="btn btn-outline-primary btn-sm align-self-start stretched-link"),
                ],
                className="d-flex flex-column",
            ),
            class_name="h-100 shadow-sm tb-page-card",
        ),
        xs=12, sm=6, lg=4,
    )


def dashboard_cards() -> list:
    pages = [p for p in dash.page_registry.values() if p["path"] != "/"]
    if not pages:
        return [dbc.Col(dbc.Alert("No dashboards are installed yet.", color="secondary", class_name="mb-0"), xs=12)]
    return [dashboard_card(p) for p in pages]


def status_placeholder() -> list:
    return [html.Span("checking…", className="badge border bg-secondary-subtle text-secondary-emphasis tb-status-pill")]


def layout(**_kwargs):
    return html.Div(
        [
            html.Div(
                [
                    html.H1("Dashboards", className="h3 mb-1"),
                    html.P("Pick a dashboard. Numbers refresh by themselves; each panel says how old it is.",
                           className="text-body-secondary mb-0"),
                ],
                className="mb-3",
            ),
            html.Section(
                [
                    html.Span("System", className="fw-semibold me-2 tb-status-label"),
                    html.Div(status_placeholder(), id=ids.STATUS, className="d-flex flex-wrap gap-2 tb-status"),
                    dcc.Interval(id=ids.STATUS_TICK, interval=STATUS_REFRESH_MS, n_intervals=0),
                ],
                className="d-flex flex-wrap align-items-center gap-2 mb-4 p-2 px-3 rounded border bg-body-tertiary tb-status-strip",
                **{"aria-label": "System status"},
            ),
            html.Div(id=ids.EMPTY),
            dbc.Row(dashboard_cards(), class_name="g-3 tb-page-cards"),
        ],
        className="tb-home",
    )
