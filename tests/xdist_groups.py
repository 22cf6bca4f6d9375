"""``xdist_group`` marks for ``--dist loadgroup`` on pytest >= 9.2.

pytest-xdist (3.8) groups a test by appending ``@<group>`` to ``item._nodeid``, which pytest 9.2 no
longer reads (a node's id lives in ``item._id``), and it does so before the conftest's
``pytest_collection_modifyitems`` has marked the browser tests. Without this hook every test goes to
whichever worker is free: two headless Chromiums at once, and a module-scoped ``tradeboard run``
started on both workers. It runs last and gives each marked test the id xdist's scheduler splits on."""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    if not getattr(config.option, "loadgroup", False):  # set in xdist's workers under --dist loadgroup
        return
    from _pytest.nodeid import NodeId

    for item in items:
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")
