"""The report's matrix as data, shared by the HTML and Markdown pages.

Rows are implementation x variant, columns model x check area. A cell holds that run's counts for
that area, or says why there is no run: ``not_served``, ``config_error``, ``not_installed``,
``crashed``, or ``none`` (the model has no such variant). Its ``state`` decides the colour:
``fail`` (something failed), ``pass`` (something passed, nothing failed), ``skip`` (everything
skipped), ``xfail``, or the run status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.suite.areas import AREA_NAMES as AREAS

__all__ = ["Cell", "Row", "Matrix", "build_matrix", "AREAS", "cell_id"]

_FAILING = ("failed", "error", "xpassed")


@dataclass
class Cell:
    state: str
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""
    anchor: str = ""  # id of the failure details for a failing cell

    @property
    def label(self) -> str:
        if self.state in ("pass", "fail", "skip", "xfail"):
            c = self.counts
            failed = sum(c.get(k, 0) for k in _FAILING)
            text = f"{c.get('passed', 0)}/{failed}/{c.get('skipped', 0)}"
            return text + (f"/{c['xfailed']}x" if c.get("xfailed") else "")
        return {"none": "", "not_served": "n/s", "config_error": "config", "not_installed": "n/i", "crashed": "crash",
                "absent": "-"}.get(self.state, self.state)


@dataclass
class Row:
    implementation: str
    variant: str
    cells: dict[tuple[str, str], Cell]  # (model, area) -> cell


@dataclass
class Matrix:
    models: list[str]
    areas: tuple[str, ...]
    rows: list[Row]


def cell_id(implementation: str, model: str, variant: str, area: str) -> str:
    raw = f"{implementation}-{model}-{variant}-{area}"
    return "f-" + "".join(ch if ch.isalnum() else "-" for ch in raw)


def _area_cell(run: dict[str, Any], area: str) -> Cell:
    status = run["status"]
    if status not in ("certified", "not_certified"):
        return Cell(status, message=run.get("message", ""))
    c = dict(run.get("areas", {}).get(area, {}))
    if not c:
        return Cell("absent")
    if any(c.get(k) for k in _FAILING):
        state = "fail"
    elif c.get("passed"):
        state = "pass"
    elif c.get("xfailed"):
        state = "xfail"
    else:
        state = "skip"
    reasons = run.get("skips", {}).get(area, {})
    message = "; ".join(f"{n}x {r}" for r, n in list(reasons.items())[:3]) if state == "skip" else ""
    anchor = cell_id(run["implementation"], run["model"], run["variant"], area) if state == "fail" else ""
    return Cell(state, c, message, anchor)


def build_matrix(results: dict[str, Any]) -> Matrix:
    runs = results.get("runs", [])
    models = list(results.get("snapshots", {})) or sorted({r["model"] for r in runs})
    models = [m for m in models if any(r["model"] == m for r in runs)]
    row_keys: list[tuple[str, str]] = []
    for r in runs:
        key = (r["implementation"], r["variant"])
        if key not in row_keys:
            row_keys.append(key)
    by_key = {(r["implementation"], r["variant"], r["model"]): r for r in runs}
    rows = []
    for impl, variant in row_keys:
        cells = {}
        for m in models:
            run = by_key.get((impl, variant, m))
            for area in AREAS:
                cells[(m, area)] = _area_cell(run, area) if run else Cell("none")
        rows.append(Row(impl, variant, cells))
    return Matrix(models, AREAS, rows)
