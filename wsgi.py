"""WSGI entry point: ``gunicorn wsgi:server`` (configured from the environment).

``python wsgi.py [HOST] [PORT]`` runs Dash's debug server with reload (what ``tradeboard run --dev``
starts).
"""

from __future__ import annotations

import gc
import sys

from app import create_app
from app.config import Settings

app = create_app(Settings.from_env())
server = app.server

# Dash finishes setting itself up (callback map, scripts, layout check) on the first request, and that
# setup is not thread-safe: under load, 16 threads' first requests raced it and one got a 500
# ("dictionary changed size during iteration" in dash._validate). Done here, once, before serving.
with server.test_request_context("/"):
    app._setup_server()

# The ~230,000 objects the app keeps for life (Dash, plotly, SQLAlchemy, pandas) out of the cyclic
# collector's reach: a full collection scanning them all stalled every thread of a worker for
# ~100 ms (measured in-process), which is what a load test's p99 sees.
gc.collect()
gc.freeze()

if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8050
    app.run(host=host, port=port, debug=True, use_reloader=True)
