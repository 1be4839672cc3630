"""The report's findings: each implementation's root causes across all its runs.

A run record carries the findings of its certification (``conformance.suite.findings``); here the
findings of one implementation are merged across models and variants by signature, so a
maintainer reads "3 findings, each with a minimal repro" instead of "402 failures". Benign findings
(notes) are listed apart and never make a run fail.

``issue_markdown`` renders one finding as a ready-to-paste bug report for the library's tracker:
title, class, environment and versions, the reproduction (runnable against the library alone with
``transformers``), expected vs actual ids decoded, and the standard's decision it rests on, if any.
"""

from __future__ import annotations

from typing import Any

__all__ = ["implementation_findings", "issue_markdown", "STANDARD_DECISIONS"]

_CLASS_ORDER = ("security", "sampling", "training", "benign")

#: Signature fragments whose expectation is a decision of this standard rather than the template's
#: own behaviour (argued once, in the README's decisions list).
STANDARD_DECISIONS = {
    "injection|": "Content is encoded as text: a template's literal render turns typed special-token text into special ids "
                  "(README: Special-token text in content). Under --conformance-injection literal this is not judged.",
    "weights|": "Training where a turn renders differently in history than sampled: its own tokens, not the template's "
                "scaffolding (README: the standard's decisions).",
    "drops-after-final": "Template text after the final end-of-turn token weighs 0 and conditions nothing: benign "
                         "(README: the standard's decisions).",
}


def _decision(signature: str) -> str:
    return next((why for frag, why in STANDARD_DECISIONS.items() if frag in signature), "")


def implementation_findings(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Implementation -> its findings (failing classes first, most tests first), each with the
    runs it appears in and the smallest reproduction over all of them; notes come last."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for run in results.get("runs", []):
        impl = run["implementation"]
        key = f"{run['model']} [{run['variant']}]"
        for f in run.get("findings", []) + [{**n, "signature": f"note|{n['title']}", "area": ""} for n in run.get("notes", [])]:
            agg = out.setdefault(impl, {}).setdefault(f["signature"], {
                "signature": f["signature"], "class": f["class"], "title": f["title"], "area": f.get("area", ""),
                "tests": 0, "runs": [], "reproduction": None, "decision": _decision(f["signature"])})
            agg["tests"] += int(f["tests"])
            agg["runs"].append(key)
            rep = f.get("reproduction")
            if rep is not None:
                size = int((rep.get("divergence") or {}).get("expected_len", 10**9))
                if agg["reproduction"] is None or size < agg["_size"]:
                    agg["reproduction"], agg["_size"] = {**rep, "run": key, "model": run["model"]}, size
    return {impl: sorted(({k: v for k, v in f.items() if k != "_size"} for f in found.values()),
                         key=lambda f: (_CLASS_ORDER.index(f["class"]), -f["tests"], f["title"]))
            for impl, found in out.items()}


def issue_markdown(impl: str, finding: dict[str, Any], results: dict[str, Any]) -> str:
    env = results.get("environments", {}).get(impl, {})
    versions = ", ".join(f"{k} {v}" for k, v in sorted(env.items()) if k not in ("ok", "env", "executable"))
    rep = finding.get("reproduction") or {}
    lines = [f"# {finding['title']}", "",
             f"**Class:** {finding['class']} · **tests:** {finding['tests']} in {len(finding['runs'])} run(s): "
             + ", ".join(f"`{r}`" for r in finding["runs"][:12]), "",
             f"**Environment:** {versions or 'see results.json'}", ""]
    if rep:
        lines += ["## Reproduction", "",
                  f"Model `{rep.get('model', '')}`, variant `{rep.get('variant', '')}`, case `{rep.get('case', '')}` "
                  f"(`{rep.get('nodeid', '')}`), with the model's own tokenizer and chat template (`transformers`):", "",
                  "```text", (rep.get("reason") or "").strip(), "```", ""]
        div = rep.get("divergence")
        if div:
            lines += ["## Expected (the template) vs actual, from the first divergence", "",
                      "| pos | expected | actual |", "|---|---|---|"]
            for row in div.get("rows", []):
                mark = "**" if row[1] != row[4] else ""
                lines.append(f"| {row[0]} | {mark}{row[1]} `{row[2]!r}`{mark} | {mark}{row[4]} `{row[5]!r}`{mark} |")
            lines.append("")
    if finding.get("decision"):
        lines += ["## The expectation", "", f"This rests on a decision of the conformance standard, not only the template: "
                  f"{finding['decision']}", ""]
    else:
        lines += ["## The expectation", "", "The chat template's own behaviour (`apply_chat_template` on the model's snapshot).", ""]
    return "\n".join(lines)
