"""The report as Markdown (``index.md``): what a reviewer reads in a diff or on a repository page.
Verdicts per implementation x model, changes since the previous report, and per failing run the
failing areas with their smallest failing case ids. The token-level diffs are on the HTML page."""

from __future__ import annotations

from typing import Any

from conformance.report.compare import run_key
from conformance.report.findings import failing_signatures, family_line, implementation_findings, literal_verdict
from conformance.report.matrix import AREAS, build_matrix

__all__ = ["render_markdown"]

_SHORT = {"certified": "CERTIFIED", "not_certified": "not certified", "config_error": "config error", "not_served": "n/s",
          "not_installed": "not installed", "crashed": "crashed"}


def _verdict(run: dict[str, Any]) -> str:
    text = _SHORT.get(run["status"], run["status"])
    if run["status"] == "not_certified" and "findings" in run:
        text += f" ({len(failing_signatures(run))})"
    if literal_verdict(run) == "certified_literal":
        text += ", HF-literal: CERTIFIED"
    return text


def render_markdown(results: dict[str, Any]) -> str:
    runs = results.get("runs", [])
    matrix = build_matrix(results)
    lines = [f"# Renderer parity report, {results.get('date', '')}", "",
             f"Generated {results.get('generated', '')} in {results.get('duration_s', 0):.0f} s. "
             "Every implementation x model x variant certified by the conformance suite against the goldens "
             "and generated cases. Token-level diffs: `index.html`.", ""]
    lines += ["## Verdicts", "", "| implementation | " + " | ".join(f"`{m}`" for m in matrix.models) + " |",
              "|---" * (len(matrix.models) + 1) + "|"]
    for impl in dict.fromkeys(r["implementation"] for r in runs):
        cells = []
        for m in matrix.models:
            rs = [r for r in runs if r["implementation"] == impl and r["model"] == m]
            cells.append("<br>".join(f"{r['variant']}: {_verdict(r)}" for r in rs))
        lines.append(f"| {impl} | " + " | ".join(cells) + " |")
    lines += ["", "A run's findings are counted in brackets; *HF-literal: CERTIFIED* is its verdict under "
              "`--conformance-injection literal` where that differs.", ""]

    lines += ["", "## Findings", "",
              "Failing tests grouped into root causes (one signature of the first divergence, whatever the case), "
              "worst class first; `conformance report findings RESULTS --impl NAME` writes each as a bug report.", ""]
    for impl, found in implementation_findings(results).items():
        failing = [f for f in found if f["class"] != "benign"]
        notes = [f for f in found if f["class"] == "benign"]
        lines.append(f"### {impl}: {len(failing)} finding(s), {len(notes)} note(s)")
        lines.append("")
        families = family_line(found)
        if families:
            lines += [families.capitalize() + ".", ""]
        for f in found:
            rep = f.get("reproduction") or {}
            where = f"; e.g. {rep.get('run', '')} `{rep.get('nodeid', '')}`" if rep else ""
            fixes = f"; fixing it alone certifies {len(f['certifies'])} run(s)" if f.get("certifies") else ""
            lines.append(f"- **{f['class']}** {f['title']}: {f['tests']} test(s) in {len(f['runs'])} run(s){fixes}{where}")
            # A region's or a case's differences, each as its own signature titles it.
            lines += [f"  - {m['title']}: {m['tests']} test(s)" for m in f.get("members", [])]
        lines.append("")
    ch = results.get("changes") or {}
    lines += ["", "## Changes", ""]
    if not ch.get("previous"):
        lines.append("No previous report to compare with.")
    else:
        lines.append(f"Since {ch['previous']}: {len(ch.get('new_findings', []))} new findings, "
                     f"{len(ch.get('fixed_findings', []))} fixed findings, {len(ch.get('status_changes', []))} status changes "
                     f"({len(ch.get('new_failures', []))} newly failing tests, {len(ch.get('fixed', []))} fixed tests).")
        if ch.get("not_compared"):
            lines.append(f"Not compared by finding (the previous report has none for them): {', '.join(ch['not_compared'])}.")
        lines.append("")
        for i in ch.get("new_findings", []):
            lines.append(f"- new finding: {i['implementation']}: **{i['class']}** {i['title']}")
        for i in ch.get("fixed_findings", []):
            lines.append(f"- fixed finding: {i['implementation']}: **{i['class']}** {i['title']}")
        for i in ch.get("status_changes", [])[:50]:
            lines.append(f"- {i['run']}: {i['from']} -> {i['to']}")
        for i in ch.get("new_failures", [])[:50]:
            lines.append(f"- new failure: {i['run']}: `{i['nodeid']}`")
        for i in ch.get("fixed", [])[:50]:
            lines.append(f"- fixed: {i['run']}: `{i['nodeid']}`")
    lines += ["", "## Failing runs", ""]
    for run in runs:
        if run["status"] in ("config_error", "crashed", "not_installed"):
            lines.append(f"- **{run_key(run)}**: {run['status']}: {run.get('message', '')}")
            continue
        if run["status"] != "not_certified":
            continue
        lines.append(f"- **{run_key(run)}**")
        for area in AREAS:
            failing = [n for n in run.get("failing", []) if n.startswith(f"test_{area}.py::")]
            if failing:
                kept = [f["case"] or f["nodeid"].split("::")[-1] for f in run.get("failures", []) if f["area"] == area]
                lines.append(f"  - {area}: {len(failing)} failing; smallest: {', '.join(f'`{k}`' for k in kept)}")
        for p in run.get("problems", []):
            if "nothing passed" in p:
                lines.append(f"  - {p}")
    return "\n".join(lines) + "\n"
