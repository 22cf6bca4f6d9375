"""Dash pages: one module per page, each calling ``dash.register_page(__name__, path=..., name=...,
order=..., description=...)`` and defining a cheap ``layout(**kwargs)``.

`create_app` imports every module of this package whose source calls ``register_page`` (after
the Dash app exists), so a new page appears in the navbar and on the home page by existing.
Modules without ``register_page`` (ids, definitions) are plain imports.

The ids of the app shell and of the home page live here (typed once, prefixed by page); each other
page keeps its own ``<page>_ids.py``.
"""


class shell_ids:  # noqa: N801 - a namespace of constants
    THEME_STORE = "shell-theme"  # dcc.Store(storage_type="local"): "light" | "dark"
    THEME_SWITCH = "shell-theme-switch"
    NAVBAR_TOGGLER = "shell-navbar-toggler"
    NAVBAR_COLLAPSE = "shell-navbar-collapse"
    LOCATION = "_pages_location"  # the dcc.Location inside dash.page_container


class home_ids:  # noqa: N801
    STATUS = "home-status"
    STATUS_TICK = "home-status-tick"
    EMPTY = "home-empty"  # what an empty book is missing and how to bring it in
