"""Dash callbacks, one module per page (plus `shell` for the navbar and home page).

Each module defines ``register(app)`` and uses ``app.callback`` / ``app.clientside_callback``
(never the global ``dash.callback``); `app.CALLBACK_MODULES` lists the modules create_app wires.
"""
