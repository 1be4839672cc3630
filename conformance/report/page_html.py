"""The report as one self-contained HTML page (inline CSS, a few lines of inline script, no
network): header with versions and snapshot hashes, changes since the previous report, an
overview, the matrix, and for every failing cell its smallest failing cases with the reproduction
and a token-level diff at the first divergence (ids and decoded pieces side by side, special
tokens highlighted). A failing cell links to its details; opening the link expands them.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from conformance.report.compare import run_key
from conformance.report.findings import failing_signatures, family_line, implementation_findings, literal_verdict
from conformance.report.matrix import AREAS, Matrix, build_matrix, cell_id
from conformance.suite.areas import AREAS as AREA_TABLE

__all__ = ["render_html", "AREA_ABBREVIATIONS"]

AREA_ABBREVIATIONS = {a.name: a.abbreviation for a in AREA_TABLE}

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 3em;color:#1b1f24;background:#fff}
h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #d0d7de}
.meta{color:#57606a}.verdicts div{padding:0 .3em;white-space:nowrap;font-size:.9em}
.cls-security{color:#a40e26}.cls-training{color:#9a6700}.cls-sampling{color:#0550ae}.cls-benign{color:#57606a}.meta code{font-size:.9em}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:2px 5px;text-align:center;white-space:nowrap}
.scroll{overflow-x:auto;max-width:100%}
#matrix th.row{background:#f6f8fa;text-align:left;min-width:16em}#matrix h3{font-size:1em;margin:.8em 0 .2em}
#matrix thead th{background:#f6f8fa;font-weight:600}#matrix td{font:12px ui-monospace,monospace;min-width:4.5em}
.pass{background:#aceebb}.fail{background:#ffaba8}.skip{background:#eaeef2;color:#57606a}.xfail{background:#fff1a8}
.not_served,.none,.absent{background:#f6f8fa;color:#8c959f}.config_error,.not_installed{background:#ffd8a8}.crashed{background:#e5534b;color:#fff}
td.fail a{color:#82071e;font-weight:700;text-decoration:none;display:block}
.certified{color:#116329;font-weight:600}.not_certified{color:#a40e26;font-weight:600}
details{border:1px solid #d0d7de;border-radius:6px;margin:.5em 0;padding:.3em .8em}
details:target{border-color:#cf222e;box-shadow:0 0 0 2px #ffaba8}
summary{cursor:pointer;font-weight:600}pre{background:#f6f8fa;padding:.5em;overflow-x:auto;font-size:12px;white-space:pre-wrap}
table.diff td{font:12px ui-monospace,monospace;text-align:left}table.diff tr.div td{background:#ffebe9;font-weight:700}
.sp{background:#ddf4ff;color:#0550ae;border-radius:3px;padding:0 2px}.legend span{display:inline-block;padding:0 .5em;margin-right:.3em}
ul.changes li{font-family:ui-monospace,monospace;font-size:12px}
"""

_SCRIPT = """
function openTarget(){var id=location.hash.slice(1);if(!id)return;var d=document.getElementById(id);
if(d&&d.tagName==='DETAILS'){d.open=true;d.scrollIntoView();}}
window.addEventListener('hashchange',openTarget);window.addEventListener('DOMContentLoaded',openTarget);
"""


def _piece(p: Any, special: bool) -> str:
    if p is None:
        return '<span class="end">(end)</span>'
    text = escape(json.dumps(p, ensure_ascii=False))
    return f'<span class="sp">{text}</span>' if special else text


def _diff_table(div: dict[str, Any]) -> str:
    head = (f"<p>{escape(div.get('what') or 'ids')}: first divergence at token {div['at']} "
            f"(expected {div['expected_len']} ids, got {div['got_len']})</p>")
    rows = ["<tr><th>pos</th><th>expected id</th><th>expected piece</th><th>got id</th><th>got piece</th></tr>"]
    for pos, e, ep, es, g, gp, gs in div["rows"]:
        cls = ' class="div"' if e != g else ""
        rows.append(f"<tr{cls}><td>{pos}</td><td>{'' if e is None else e}</td><td>{_piece(ep, es)}</td>"
                    f"<td>{'' if g is None else g}</td><td>{_piece(gp, gs)}</td></tr>")
    return head + '<table class="diff">' + "".join(rows) + "</table>"


def _header(results: dict[str, Any]) -> str:
    envs = results.get("environments", {})
    env_rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(str(e.get('env', '')))}</td>"
        f"<td>{'ok' if e.get('ok') else escape(str(e.get('error', '')))[:200]}</td>"
        f"<td>{escape(', '.join(f'{k} {v}' for k, v in sorted(e.items()) if k not in ('ok', 'error', 'env', 'executable')))}</td></tr>"
        for name, e in sorted(envs.items()))
    snaps = "".join(
        f"<tr><td>{escape(m)}</td><td>{escape(s.get('snapshot', ''))}</td>"
        f"<td><code>{escape(str(s.get('content_hash', ''))[:16])}</code></td>"
        f"<td><code>{escape(str(s.get('chat_template_sha256', ''))[:16])}</code></td><td>{escape(str(s.get('fidelity', '')))}</td></tr>"
        for m, s in results.get("snapshots", {}).items())
    counts: dict[str, int] = {}
    for r in results.get("runs", []):
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    m = results.get("machine", {})
    return (
        f"<h1>Renderer parity report, {escape(results.get('date', ''))}</h1>"
        f"<p class=meta>generated {escape(results.get('generated', ''))} in {results.get('duration_s', 0):.0f} s on "
        f"{escape(str(m.get('platform', '')))} ({m.get('cpus', '?')} cpus); runs: "
        + ", ".join(f"{n} {escape(s)}" for s, n in sorted(counts.items())) + "</p>"
        "<details><summary>environments and versions</summary><table><tr><th>implementation</th><th>env</th><th>import</th>"
        f"<th>versions</th></tr>{env_rows}</table></details>"
        "<details><summary>tokenizer snapshots (content hash, template sha256, fidelity)</summary><table><tr><th>model</th>"
        f"<th>snapshot</th><th>content hash</th><th>template sha256</th><th>fidelity</th></tr>{snaps}</table></details>"
    )


def _changes(results: dict[str, Any]) -> str:
    return f"<details id=changes><summary><b>Changes</b> since the previous report</summary>{_change_list(results)}</details>"


def _change_list(results: dict[str, Any]) -> str:
    ch = results.get("changes") or {}
    if not ch.get("previous"):
        return "<h2>Changes</h2><p>No previous report to compare with.</p>"
    parts = [f"<h2>Changes since {escape(ch['previous'])}</h2>"]
    for key, title in (("new_findings", "New findings"), ("fixed_findings", "Fixed findings")):
        items = ch.get(key, [])
        parts.append(f"<h3>{title} ({len(items)})</h3>")
        if items:
            parts.append('<ul class="changes">' + "".join(
                f"<li>{escape(i['implementation'])}: <b class='cls-{escape(i['class'])}'>{escape(i['class'])}</b> "
                f"{escape(i['title'])}</li>" for i in items) + "</ul>")
    if ch.get("not_compared"):
        parts.append(f"<p class=meta>Not compared by finding (the previous report has no findings for them): "
                     f"{escape(', '.join(ch['not_compared']))}.</p>")
    for key, title in (("status_changes", "Status changes"), ("new_failures", "Newly failing tests"), ("fixed", "Fixed tests")):
        items = ch.get(key, [])
        parts.append(f"<h3>{title} ({len(items)})</h3>")
        if items:
            lis = "".join(
                f"<li>{escape(i['run'])}: {escape(i['nodeid'])}</li>" if "nodeid" in i
                else f"<li>{escape(i['run'])}: {escape(i['from'])} &rarr; {escape(i['to'])}</li>" for i in items[:200])
            more = f"<li>... and {len(items) - 200} more</li>" if len(items) > 200 else ""
            parts.append(f'<ul class="changes">{lis}{more}</ul>')
    return "".join(parts)


def _overview(results: dict[str, Any], matrix: Matrix) -> str:
    """The verdicts first: a row per model, a column per implementation, a line per variant (so
    every model fits one screen), coloured by verdict, with each run's findings counted."""
    runs = results.get("runs", [])
    impls = list(dict.fromkeys(r["implementation"] for r in runs))
    head = "<tr><th>model</th>" + "".join(f"<th>{escape(i)}</th>" for i in impls) + "</tr>"
    body = []
    for m in matrix.models:
        cells = []
        for impl in impls:
            rs = [r for r in runs if r["implementation"] == impl and r["model"] == m]
            lines = []
            for r in rs:
                n = len(failing_signatures(r))
                extra = f" ({n} finding{'s' if n != 1 else ''})" if r["status"] == "not_certified" and "findings" in r else ""
                if literal_verdict(r) == "certified_literal":
                    extra += ' <span title="the verdict under --conformance-injection literal">&middot; HF-literal: CERTIFIED</span>'
                cls = {"certified": "pass", "not_certified": "fail"}.get(r["status"], r["status"])
                lines.append(f'<div class="{escape(cls)}" title="{escape(r.get("message", ""))}">{escape(r["variant"])}: '
                             f'{escape(r["status"].replace("_", " "))}{extra}</div>')
            cells.append("<td class=verdicts>" + "".join(lines) + "</td>")
        body.append(f"<tr><th class=row>{escape(m)}</th>{''.join(cells)}</tr>")
    return f'<h2>Overview</h2><div class="scroll"><table id="overview">{head}{"".join(body)}</table></div>'


_VERDICT = {"certified": ("pass", "CERTIFIED"), "not_certified": ("fail", "not certified"), "none": ("none", "")}


def _matrix(matrix: Matrix) -> str:
    """A table per model (so each fits the width): a row per implementation x variant, its verdict,
    then its findings per area."""
    tables = []
    head = '<tr><th class="row">implementation / variant</th><th>verdict</th>' + "".join(
        f'<th title="{a}">{AREA_ABBREVIATIONS.get(a, a)}</th>' for a in matrix.areas) + "</tr>"
    for m in matrix.models:
        body = []
        for row in matrix.rows:
            status = row.verdicts.get(m, "none")
            if status == "none":
                continue
            vcls, vtext = _VERDICT.get(status, (status, status.replace("_", " ")))
            tds = [f'<td class="{vcls}">{escape(vtext)}</td>']
            for a in matrix.areas:
                c = row.cells[(m, a)]
                what = "; ".join(c.findings) or c.message or c.state
                title = escape(f"{m} / {a}: {what}" + (f" (tests passed/failed/skipped: {c.tests})" if c.counts else ""))
                label = escape(c.label)
                inner = f'<a href="#{c.anchor}">{label}</a>' if c.anchor else label
                tds.append(f'<td class="{c.state}" title="{title}">{inner}</td>')
            body.append(f'<tr><th class="row">{escape(row.implementation)} / {escape(row.variant)}</th>{"".join(tds)}</tr>')
        tables.append(f'<h3>{escape(m)}</h3><table class="matrix"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>')
    legend = ('<p class="legend">cells: the run&rsquo;s findings in that area (hover for their titles and the test counts). '
              '<span class="pass">ok</span><span class="fail">findings</span><span class="skip">all skipped</span>'
              '<span class="xfail">xfail</span><span class="not_served">n/s: not served</span>'
              '<span class="config_error">config: configuration error</span><span class="not_installed">n/i: not installed</span>'
              '<span class="crashed">crash</span></p>')
    return (f'<details id="matrix-section"><summary><b>Matrix</b>: every area of every run, per model'
            f'</summary>{legend}<div id="matrix">{"".join(tables)}</div></details>')


def _failures(results: dict[str, Any]) -> str:
    parts = ["<h2>Failures</h2>"]
    any_failure = False
    for run in results.get("runs", []):
        if run["status"] not in ("certified", "not_certified"):
            if run["status"] in ("config_error", "crashed", "not_installed"):
                parts.append(f"<p><b>{escape(run_key(run))}</b>: {escape(run['status'])}: {escape(run.get('message', ''))}</p>")
            continue
        for area in AREAS:
            failing = [n for n in run.get("failing", []) if n.startswith(f"test_{area}.py::")]
            if not failing:
                continue
            any_failure = True
            kept = [f for f in run.get("failures", []) if f["area"] == area]
            items = []
            for f in kept:
                reason, diff = f.get("reason", ""), ""
                if f.get("divergence"):
                    # the table below says what the text diff says, with the special tokens marked
                    reason, diff = reason.split("first divergence at token", 1)[0].rstrip(), _diff_table(f["divergence"])
                items.append(f"<h4>{escape(f['nodeid'])}</h4><pre>{escape(reason)}</pre>{diff}")
            rest = [n for n in failing if n not in {f["nodeid"] for f in kept}]
            more = ("<p>also failing: " + escape(", ".join(rest[:40])) + (f" ... ({len(rest) - 40} more)" if len(rest) > 40 else "")
                    + "</p>") if rest else ""
            anchor = cell_id(run["implementation"], run["model"], run["variant"], area)
            parts.append(f'<details id="{anchor}"><summary>{escape(run_key(run))} / {area}: {len(failing)} failing '
                         f"(smallest {len(kept)} shown)</summary>{''.join(items)}{more}</details>")
    if not any_failure:
        parts.append("<p>No failing test.</p>")
    return "".join(parts)


def render_html(results: dict[str, Any]) -> str:
    """The whole page for one ``results.json`` (deterministic: the same results give the same bytes)."""
    matrix = build_matrix(results)
    body = _header(results) + _overview(results, matrix) + _findings(results) + _matrix(matrix) + _changes(results) + _failures(results)
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            f"<title>Renderer parity report {escape(results.get('date', ''))}</title><style>{_CSS}</style>"
            f"<script>{_SCRIPT}</script></head><body>{body}</body></html>\n")


def _findings(results: dict[str, Any]) -> str:
    """Each implementation's findings (root causes), worst class first: what a reader came for."""
    parts = ["<h2 id=findings>Findings</h2><p class=meta>Failing tests grouped into root causes (one signature of the "
             "first divergence, whatever the case); benign notes change nothing a model sees or trains on.</p>"]
    for impl, found in implementation_findings(results).items():
        failing = sum(1 for f in found if f["class"] != "benign")
        items = []
        for f in found:
            rep = f.get("reproduction") or {}
            eg = f" <span class=meta>e.g. {escape(rep.get('run', ''))} <code>{escape(rep.get('nodeid', ''))}</code></span>" if rep else ""
            fixes = (f"; fixing it alone certifies {len(f['certifies'])} run(s)" if f.get("certifies") else "")
            ways = "".join(f"<li>{escape(m['title'])}: {m['tests']} test(s)</li>" for m in f.get("members", []))
            items.append(f"<li><b class='cls-{escape(f['class'])}'>{escape(f['class'])}</b> {escape(f['title'])}: "
                         f"{f['tests']} test(s) in {len(f['runs'])} run(s){escape(fixes)}{eg}"
                         f"{f'<ul class=meta>{ways}</ul>' if ways else ''}</li>")
        line = family_line(found)
        families = f"<p class=meta>{escape(line)}</p>" if line else ""
        parts.append(f"<details{' open' if failing else ''}><summary><b>{escape(impl)}</b>: {failing} finding(s), "
                     f"{len(found) - failing} note(s)</summary>{families}<ol>{''.join(items)}</ol></details>")
    return "".join(parts)
