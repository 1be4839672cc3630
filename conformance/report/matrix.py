"""The report's matrix as data, shared by the HTML and Markdown pages.

Rows are implementation x variant, columns model x (verdict, check areas). An area cell shows the
run's findings in that area (root causes, not test counts: those are in its title), or says why
there is no run: ``not_served``, ``config_error``, ``not_installed``, ``crashed``, or ``none`` (the
model has no such variant). Its ``state`` decides the colour: ``fail`` (something failed),
``pass`` (something passed, nothing failed), ``skip`` (everything skipped), ``xfail``, or the run
status. A run's verdict cell is its status.
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
    findings: list[str] = field(default_factory=list)  # titles of the run's failing findings in this area

    @property
    def tests(self) -> str:
        """passed/failed/skipped tests (and xfailed), for the cell's title."""
        c = self.counts
        failed = sum(c.get(k, 0) for k in _FAILING)
        text = f"{c.get('passed', 0)}/{failed}/{c.get('skipped', 0)}"
        return text + (f"/{c['xfailed']}x" if c.get("xfailed") else "")

    @property
    def label(self) -> str:
        if self.state == "fail":
            # A run from before findings existed has failures but no findings: its test count.
            n = len(self.findings)
            return f"{n} finding{'s' if n != 1 else ''}" if n else f"{sum(self.counts.get(k, 0) for k in _FAILING)} tests"
        if self.state in ("pass", "skip", "xfail"):
            return {"pass": "ok", "skip": "skip", "xfail": "xfail"}[self.state]
        return {"none": "", "not_served": "n/s", "config_error": "config", "not_installed": "n/i", "crashed": "crash",
                "absent": "-"}.get(self.state, self.state)


@dataclass
class Row:
    implementation: str
    variant: str
    cells: dict[tuple[str, str], Cell]  # (model, area) -> cell
    verdicts: dict[str, str] = field(default_factory=dict)  # model -> run status ("none": no such run)


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
    found = [f["title"] for f in run.get("findings", []) if f["class"] != "benign" and area in f.get("areas", [f.get("area")])]
    return Cell(state, c, message, anchor, found)


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
        cells, verdicts = {}, {}
        for m in models:
            run = by_key.get((impl, variant, m))
            verdicts[m] = run["status"] if run else "none"
            for area in AREAS:
                cells[(m, area)] = _area_cell(run, area) if run else Cell("none")
        rows.append(Row(impl, variant, cells, verdicts))
    return Matrix(models, AREAS, rows)
