"""The app shell: navbar (brand, one link per registered page, user, sign out, theme switch) around
``dash.page_container``. `layout()` runs on every page load (``/_dash-layout``), so the navbar
always lists the pages registered now and names the user signed in now.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from app.auth import THEME_SCRIPT, current_user
from layouts import shell_ids as ids

# Dash's default index with one addition: the remembered theme is applied before first paint,
# so a dark-mode user never sees a white flash.
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        <script>""" + THEME_SCRIPT + """</script>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>
"""

SUN = "\u2600"
MOON = "\u263e"


def nav_links() -> list:
    """One NavLink per registered page, in registry order (the order given to register_page)."""
    return [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact", class_name="tb-nav-link"))
        for page in dash.page_registry.values()
    ]


def user_area() -> html.Div:
    user = current_user()
    children = []
    if user is not None:
        children += [
            html.Span(
                [html.Span(user.display_name, className="tb-user-name"),
                 html.Span(user.role, className="badge rounded-pill text-bg-light ms-2 tb-user-role")],
                className="navbar-text text-white text-nowrap",
                title=f"Signed in as {user.username}",
            ),
            dbc.NavLink("Sign out", href="/logout", external_link=True, class_name="tb-signout px-0 px-md-2"),
        ]
    children.append(
        html.Div(
            [
                html.Span(SUN, className="tb-theme-icon", **{"aria-hidden": "true"}),
                dbc.Switch(id=ids.THEME_SWITCH, value=False, class_name="mb-0 ms-2 me-n1 tb-theme-switch",
                           input_class_name="tb-theme-input", label_class_name="visually-hidden", label="Dark theme"),
                html.Span(MOON, className="tb-theme-icon", **{"aria-hidden": "true"}),
            ],
            className="d-flex align-items-center text-white tb-theme",
            title="Light / dark theme",
        )
    )
    return html.Div(children, className="d-flex flex-wrap align-items-center gap-3 ms-md-auto py-2 py-md-0 tb-user-area")


def navbar() -> dbc.Navbar:
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("tradeboard", href="/", class_name="tb-brand fw-bold"),
                dbc.NavbarToggler(id=ids.NAVBAR_TOGGLER, n_clicks=0),
                dbc.Collapse(
                    [dbc.Nav(nav_links(), navbar=True, class_name="me-auto tb-nav"), user_area()],
                    id=ids.NAVBAR_COLLAPSE,
                    is_open=False,
                    navbar=True,
                ),
            ],
            fluid="xl",
        ),
        color="primary",
        dark=True,
        expand="md",
        class_name="tb-navbar shadow-sm",
    )


MAIN_ID = "main-content"  # the skip link's target


def layout(**_kwargs):
    return html.Div(
        [
            html.A("Skip to content", href=f"#{MAIN_ID}", className="visually-hidden-focusable tb-skip-link"),
            dcc.Store(id=ids.THEME_STORE, storage_type="local"),
            html.Header(navbar(), className="sticky-top"),  # sticky here: the navbar's parent is the header
            html.Main(dbc.Container(dash.page_container, fluid="xl", class_name="tb-main py-3 py-md-4"),
                      id=MAIN_ID, tabIndex="-1"),
        ],
        className="tb-shell",
    )
