"""Building blocks every dashboard page uses: panels with freshness and error slots, the
time-range and auto-refresh pickers, KPI cards, AG Grid columns, CSV buttons and the whole-dashboard
JSON download."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

TIME_RANGES = [("7d", "7D"), ("30d", "30D"), ("90d", "90D"), ("1y", "1Y"), ("all", "All")]
REFRESH_CHOICES = [("0", "Off"), ("5", "5 s"), ("30", "30 s"), ("60", "1 min"), ("300", "5 min")]
CHART_CONFIG = {"displaylogo": False, "responsive": True}


def panel(title: str, freshness_id: str, error_id: str, body, *, extra=None) -> dbc.Card:
    """A card with a title, an "updated N s ago" label, an error slot and the panel's body."""
    header = html.Div(
        [
            html.H2(title, className="h6 mb-0 me-auto"),
            extra,
            html.Small(id=freshness_id, className="text-body-secondary ms-2 text-nowrap"),
        ],
        className="d-flex flex-wrap align-items-center gap-2",
    )
    return dbc.Card(dbc.CardBody([header, html.Div(id=error_id), body], className="d-flex flex-column gap-2"),
                    className="h-100 shadow-sm")


def time_range_picker(component_id: str, value: str = "90d", ranges: list[tuple[str, str]] = TIME_RANGES) -> dbc.Col:
    """The time ranges (``[(value, label)]``) as one joined button group."""
    return dbc.Col(
        dbc.RadioItems(
            id=component_id,
            options=[{"label": label, "value": v} for v, label in ranges],
            value=value,
            inline=True,
            className="btn-group btn-group-sm",
            inputClassName="btn-check",
            labelClassName="btn btn-outline-primary",
            labelCheckedClassName="active",
        ),
        xs="auto",
        className="tb-radio-group",
    )


def refresh_picker(component_id: str, value: str = "30") -> dbc.Col:
    return dbc.Col(
        dbc.InputGroup(
            [
                dbc.InputGroupText("Auto-refresh"),
                dbc.Select(id=component_id, options=[{"label": label, "value": v} for v, label in REFRESH_CHOICES],
                           value=value),
            ],
            size="sm",
        ),
        xs="auto",
    )


def refresh_timers(tick_id: str, clock_id: str) -> list:
    """The auto-refresh ticker (driven by the refresh picker) and the clock that re-ages labels."""
    return [dcc.Interval(id=tick_id, interval=30_000), dcc.Interval(id=clock_id, interval=5_000)]


def kpi_card(label: str, definition: str, *, label_id: str, value_id: str, sub_id: str) -> dbc.Card:
    """A headline number with its definition as a tooltip on the label."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(label, id=label_id, className="small text-body-secondary kpi-label"),
                html.Div("—", id=value_id, className="fs-4 fw-semibold kpi-value"),
                html.Div(id=sub_id, className="small"),
                dbc.Tooltip(definition, target=label_id, placement="bottom"),
            ]
        ),
        className="h-100 shadow-sm",
    )


def csv_button(button_id: str) -> dbc.Button:
    return dbc.Button("CSV", id=button_id, size="sm", color="secondary", outline=True)


def json_download_button(button_id: str) -> dbc.Button:
    """The toolbar's "JSON" button (callbacks.common.register_json_download wires it)."""
    return dbc.Button("JSON", id=button_id, size="sm", color="secondary", outline=True,
                      title="Download the whole dashboard as JSON")


def refresh_and_json_buttons(refresh_id: str, json_button_id: str) -> dbc.Col:
    """The toolbar's "Refresh" (rebuild every panel now) and "JSON" (the whole dashboard) buttons."""
    return dbc.Col(
        dbc.ButtonGroup([
            dbc.Button("Refresh", id=refresh_id, size="sm", color="primary",
                       title="Rebuild every panel from the database now"),
            json_download_button(json_button_id),
        ]),
        xs="auto",
    )


def json_download(download_id: str) -> dcc.Download:
    return dcc.Download(id=download_id)


def money_column(field: str, header: str) -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned", "minWidth": 135,
            "valueFormatter": {"function": "params.value == null ? '—' : d3.format(',.2f')(params.value)"}}


def pct_column(field: str, header: str) -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned",
            "valueFormatter": {"function": "params.value == null ? '—' : d3.format('.1f')(params.value) + ' %'"}}


def number_column(field: str, header: str, fmt: str = ".2f") -> dict:
    return {"field": field, "headerName": header, "type": "rightAligned",
            "valueFormatter": {"function": f"params.value == null ? '—' : d3.format('{fmt}')(params.value)"}}


# The price a position is marked at, with its freshness: "123.45 (stale 2 min)" when the provider
# failed and this is its last good price (every positions grid uses it).
_AGE = "params.data.price_age_seconds"
PRICE_COLUMN = {
    "field": "current_price", "headerName": "Price", "type": "rightAligned", "minWidth": 150,
    "headerTooltip": "Latest price from the price provider; '(stale 2 min)': the provider failed and this is "
                     "its last good price, that old; '—': no price (named above the grid).",
    "valueFormatter": {"function": (
        "params.value == null ? '—' : d3.format(',.2f')(params.value) + (params.data && params.data.price_stale ? "
        f"' (stale ' + ({_AGE} < 90 ? Math.round({_AGE}) + ' s' : {_AGE} < 5400 ? Math.round({_AGE} / 60) + ' min' : "
        f"{_AGE} < 172800 ? Math.round({_AGE} / 3600) + ' h' : Math.round({_AGE} / 86400) + ' d') + ')' : '')")},
    "cellClassRules": {"price-stale text-warning-emphasis fst-italic": "params.data && params.data.price_stale === true"},
}
