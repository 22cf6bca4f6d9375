"""Concurrent requests for the same dashboard document share one build and its bytes.

Under load, many analysts' browsers and scripts ask for the same document within a few
milliseconds. Each asking alone would read the same cached sections, run the same real-time
statements and serialize the same 25-55 KB of JSON. ``shared_response`` instead joins the request
to a *round* (``data_access.fresh_rounds``): the round starts after every one of its requests
arrived, builds the response once, and each request answers with the round's bytes. So no answer
is older than its request (a real-time section is still computed after the request arrived), and
per document and web process at most one build runs and one waits. A round waits up to
``GATHER_SECONDS`` for as many requests as its previous round had (``FreshRounds.run``'s
``gather_seconds``): clients that ask again the moment they are answered would otherwise settle into
two alternating half-size rounds, each building the whole document. This is request coalescing, as
a caching proxy does it, inside the app: authentication, the rate limit and monitoring still run
for every request; only the build is shared.

A round's key is the endpoint, the whole query string and who is asking: the role for admins and
analysts (who see the same documents), the user for anyone a view restricts (a client's accounts,
a developer's strategies). A request never receives a document built for a different audience.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flask

from data_access import fresh_rounds

_SAME_DOCUMENTS_FOR_ROLES = frozenset({"admin", "analyst"})
# Paper trading at 10 keep-alive connections (wrk, 6 s runs, `large`, a prototype of the real-time reuse):
# 0 ms -> 1,148 req/s, 0.5 ms -> 1,097-1,132, 1 ms -> 1,213-1,339, 2 ms -> 1,294-1,480. A lone request never waits.
GATHER_SECONDS = 0.002


def audience() -> tuple:
    """Who the document is for, as far as a view can tell apart: a role whose members all see the
    same documents, or one user."""
    from app.auth import current_user

    user = current_user()
    if user is None:
        return ("anonymous",)
    if user.role in _SAME_DOCUMENTS_FOR_ROLES:
        return ("role", user.role)
    return ("user", user.id)


def shared_response(build: Callable[[], flask.Response]) -> flask.Response:
    """``build()``'s response, built once for the concurrent requests with this request's key."""
    request = flask.request

    def rendered() -> tuple:
        response = build()
        return response.status_code, response.get_data(), tuple(response.headers.items())

    key = ("document", request.endpoint, request.query_string, audience())
    status, body, headers = fresh_rounds.rounds.run(key, rendered, gather_seconds=GATHER_SECONDS,
                                                             immutable=True)[0]
    return flask.Response(body, status=status, headers=list(headers))


def shared(view: Callable[..., flask.Response]) -> Callable[..., flask.Response]:
    """A view decorator (under ``require_role``, so every request is still authorized on its own)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        return shared_response(lambda: view(*args, **kwargs))

    return wrapper
