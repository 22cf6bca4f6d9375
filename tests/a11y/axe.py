"""axe-core (installed from npm by `make axe`, a dev tool) injected into a page in headless Chromium:
the violations it finds, by impact. Exclusions are third-party markup the app cannot fix by
configuration, each with its upstream issue (docs/accessibility.md), and nothing broader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

AXE_PATH = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
requires_axe = pytest.mark.skipif(not AXE_PATH.exists(), reason="axe-core is not installed: run `make axe` (npm)")

BLOCKING = ("critical", "serious")
# selector -> why it is left out (see docs/accessibility.md)
EXCLUDED: dict[str, str] = {
    ".dash-dropdown-focus-target": "Dash 4's dcc.Dropdown renders a hidden, focusable <input aria-hidden> that hands "
                                   "focus to its labelled button (plotly/dash#3673)",
}


def run_axe(driver, context: str = "document") -> list[dict]:
    """Every violation axe-core finds on the page as it is now: id, impact, help and the first nodes."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE_PATH.read_text(encoding="utf-8"))
    options = {"resultTypes": ["violations"]}
    target = {"include": [[context]] if context != "document" else [["html"]],
              "exclude": [[selector] for selector in EXCLUDED]}
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(arguments[0], arguments[1]).then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify({error: String(e)})));", target, options)
    found = json.loads(result)
    if isinstance(found, dict):
        raise AssertionError(f"axe-core failed: {found['error']}")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [{"target": n["target"], "summary": n.get("failureSummary", "")[:300]} for n in v["nodes"][:5]],
             "count": len(v["nodes"])} for v in found]


def blocking(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    return "\n".join(f"- {v['impact']} {v['id']} ({v['count']}): {v['help']}; e.g. {v['nodes'][0]['target']} "
                     f"{v['nodes'][0]['summary']}" for v in violations)
