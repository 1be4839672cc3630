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

from conformance.suite.findings import CLASSES, FAILING_CLASSES, INJECTION_SIGNATURE, region_title, reproduction_rank

__all__ = ["implementation_findings", "issue_markdown", "STANDARD_DECISIONS", "failing_signatures", "literal_verdict",
           "finding_changes"]


#: Signature fragments whose expectation is a decision of this standard rather than the template's
#: own behaviour (argued once, in the README's decisions list).
STANDARD_DECISIONS = {
    # Before "weights|": the first fragment a signature holds names its decision.
    "extra:'<|vision_start|>'": "An image's tokens weigh 0 under every train-on choice but all_tokens: no choice trains a "
                                "model to predict pixels (README: the standard's decisions).",
    "injection|": "Content is encoded as text: a template's literal render turns typed special-token text into special ids "
                  "(README: Special-token text in content). Under --conformance-injection literal this is not judged.",
    "weights|": "Training where a turn renders differently in history than sampled: its own tokens, not the template's "
                "scaffolding (README: the standard's decisions).",
    "drops-after-final": "Template text after the final end-of-turn token weighs 0 and conditions nothing: benign "
                         "(README: the standard's decisions).",
}


def _decision(signature: str) -> str:
    return next((why for frag, why in STANDARD_DECISIONS.items() if frag in signature), "")


def failing_signatures(run: dict[str, Any]) -> set[str]:
    """The signatures of a run's findings that fail it (security, sampling, training)."""
    return {f["signature"] for f in run.get("findings", []) if f["class"] in FAILING_CLASSES}


def literal_verdict(run: dict[str, Any]) -> str:
    """The run's verdict had the implementation stated ``--conformance-injection literal``:
    ``certified``, ``certified_literal`` or ``not_certified`` ("" for a run that did not certify).

    Derived from the same run, not a second one: the literal policy judges exactly what the text
    policy judges but the role-boundary injection finding (look-alike cases whose ids are the
    template's literal ids are skipped under both, as judged by injection), so the run is certified
    under it when that finding is its only failing one. ``tests/test_findings.py`` checks the
    derivation against a real literal run."""
    if run.get("status") == "certified":
        return "certified"
    if run.get("status") != "not_certified" or "findings" not in run:
        return ""
    return "certified_literal" if failing_signatures(run) == {INJECTION_SIGNATURE} else "not_certified"


def implementation_findings(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Implementation -> its findings (failing classes first, most tests first), each with the
    runs it appears in, the runs fixing it alone would certify (``certifies``: it is their only
    failing finding), and the smallest reproduction over all of them; notes come last.

    Findings seen in one golden case only, over every run of the implementation, are one finding
    per case (signature ``case|<id>``, the differences as ``members``): a case tests one feature
    (numbers in tool arguments, think tags in user text), and where a renderer gets it wrong the
    first divergence lands in different places for the prompt, the supervised example and each
    per-turn example of that case. A difference seen in two cases or more stays its own finding."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    failing: dict[str, dict[str, set[str]]] = {}
    homes = _region_homes(results)
    for run in results.get("runs", []):
        impl = run["implementation"]
        key = f"{run['model']} [{run['variant']}]"
        failing.setdefault(impl, {})[key] = failing_signatures(run)
        notes = [{**n, "signature": f"note|{n['title']}", "area": ""} for n in run.get("notes", [])]
        run_family = _family(run["model"])
        placed = [p for found in run.get("findings", []) for p in _placed(found, homes, impl, run_family)]
        for f, covers in placed + [(n, n["signature"]) for n in notes]:
            # A region's differences are one behaviour of one family's renderer class: a library
            # writes each family's reasoning block with its own code.
            family = run_family if f["signature"].startswith("region|") else ""
            sig = f"{f['signature']}|{family}" if family else f["signature"]
            agg = out.setdefault(impl, {}).setdefault(sig, {
                "signature": sig, "class": f["class"], "title": f["title"], "area": f.get("area", ""),
                "tests": 0, "runs": [], "certifies": [], "reproduction": None, "decision": _decision(f["signature"]),
                "_cases": set(), "_members": {}, "_covers": set(), "_family": family})
            agg["_covers"].add(covers)
            agg["class"] = _worse(agg["class"], f["class"])
            for m in f.get("members", []):
                have = agg["_members"].setdefault(m["signature"], {**m, "tests": 0})
                have["tests"] += int(m["tests"])
                have["class"] = _worse(have["class"], m["class"])
            agg["tests"] += int(f["tests"])
            agg["runs"].append(key)
            # Runs from before findings named their cases: unknown, never merged by case.
            agg["_cases"] |= set(f.get("cases", [""]))
            rep = f.get("reproduction")
            if rep is not None:
                size = reproduction_rank({"nodeid": "", **rep})[:2]  # a plain call first, then the shortest
                if agg["reproduction"] is None or size < agg["_size"]:
                    agg["reproduction"], agg["_size"] = {**rep, "run": key, "model": run["model"]}, size
    for per_impl in out.values():
        for agg in per_impl.values():
            members = sorted(agg.pop("_members").values(), key=_rank)
            if members:
                agg["members"] = members
            if members and agg["signature"].startswith("region|"):  # one per family
                region = agg["signature"].removeprefix("region|").split("|")[0]
                agg["title"] = f"{region_title(region, members[0]['title'], len(members))} [{agg['_family']}]"
    merged = {impl: _merge_by_case(found) for impl, found in out.items()}
    for impl, kept in merged.items():
        for f in kept:
            f["certifies"] = [k for k in dict.fromkeys(f["runs"]) if failing[impl][k] and failing[impl][k] <= f["_covers"]]
    return {impl: sorted(({k: v for k, v in f.items() if not k.startswith("_")} for f in kept),
                         key=_rank)
            for impl, kept in merged.items()}


def _region_homes(results: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """(implementation, family, signature) -> the region finding (``region|<name>``) that holds the
    signature over the family's runs: the region most of its tests were placed in.

    A run places a signature by the parts of its own tests; another run of the family may see it
    only where no part is known (generated conversations: no region) or mostly in another part.
    One signature is one behaviour of one family's code: one finding in the report."""
    from collections import Counter

    votes: dict[tuple[str, str, str], Counter[str]] = {}
    for run in results.get("runs", []):
        family = _family(run["model"])
        for f in run.get("findings", []):
            if f["signature"].startswith("region|"):
                for m in f.get("members", []):
                    votes.setdefault((run["implementation"], family, m["signature"]), Counter())[f["signature"]] += int(m["tests"])
    return {k: c.most_common(1)[0][0] for k, c in votes.items()}


def _placed(f: dict[str, Any], homes: dict[tuple[str, str, str], str], impl: str, family: str) -> list[tuple[dict[str, Any], str]]:
    """A run's finding as the report counts it, with the run-level signature each part stands for
    ("" where it stands for part of one only): a signature whose home is a region (``_region_homes``)
    is a way of that region; a region finding's ways are each in their home, so a region whose
    ways have other homes is split there (the moved ways' tests, without the run's reproduction)."""
    member = ("signature", "class", "title", "tests")
    if not f["signature"].startswith("region|"):
        home = homes.get((impl, family, f["signature"]))
        if home is None:
            return [(f, f["signature"])]
        return [({**f, "signature": home, "members": [{k: f[k] for k in member}]}, f["signature"])]
    by_home: dict[str, list[dict[str, Any]]] = {}
    for m in f.get("members", []):
        by_home.setdefault(homes.get((impl, family, m["signature"]), f["signature"]), []).append(m)
    if list(by_home) == [f["signature"]]:
        return [(f, f["signature"])]
    return [({**f, "signature": home, "members": ms, "tests": sum(int(m["tests"]) for m in ms),
              "class": min((m["class"] for m in ms), key=CLASSES.index),
              "reproduction": f.get("reproduction") if home == f["signature"] else None}, "")
            for home, ms in by_home.items()]


def _worse(a: str, b: str) -> str:
    """The more severe of two classes."""
    return min(a, b, key=CLASSES.index)


def _family(model: str) -> str:
    from conformance.fixtures.registry import load_registry

    registry = load_registry()
    return registry[model].family if model in registry else model


def findings_by_family(found: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(model family, how many of ``found``'s failing findings appear in its runs), most first:
    a maintainer owns a renderer class per family, and reads the findings that touch it. A
    finding seen in several families counts in each."""
    from conformance.fixtures.registry import load_registry

    registry = load_registry()
    counts: dict[str, int] = {}
    for f in found:
        if f["class"] == "benign":
            continue
        models = {run.split(" [", 1)[0] for run in f["runs"]}
        for family in sorted({registry[m].family if m in registry else m for m in models}):
            counts[family] = counts.get(family, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def family_line(found: list[dict[str, Any]]) -> str:
    """``by family: gpt-oss 10, glm5 8, ...`` (empty without failing findings)."""
    families = findings_by_family(found)
    if not families:
        return ""
    return "by renderer family (a finding seen in several counts in each): " + ", ".join(f"{k} {n}" for k, n in families)


def _rank(f: dict[str, Any]) -> tuple[int, int, str]:
    """Worst class first, then most tests."""
    return CLASSES.index(f["class"]), -f["tests"], f["title"]


def _merge_by_case(found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    by_case: dict[str, list[dict[str, Any]]] = {}
    kept = []
    for f in found.values():
        cases = f["_cases"]
        single = len(cases) == 1 and "" not in cases and f["class"] != "benign" and f["signature"] != INJECTION_SIGNATURE
        if single:
            by_case.setdefault(next(iter(cases)), []).append(f)
        else:
            kept.append(f)
    for case, members in by_case.items():
        if len(members) == 1:
            kept += members
            continue
        members.sort(key=_rank)
        head = members[0]
        best = min(members, key=lambda m: m.get("_size", (1, 10**9)))
        kept.append({
            "signature": f"case|{case}", "class": head["class"], "area": head["area"],
            "title": f"case {case!r}: {head['title']} (and {len(members) - 1} more difference(s) there)",
            "tests": sum(m["tests"] for m in members), "runs": list(dict.fromkeys(r for m in members for r in m["runs"])),
            "certifies": [], "reproduction": best["reproduction"], "_size": best.get("_size", (1, 10**9)),
            "decision": next((m["decision"] for m in members if m["decision"]), ""),
            "members": [{"signature": m["signature"], "class": m["class"], "title": m["title"], "tests": m["tests"]}
                        for m in members],
            "_cases": {case}, "_covers": set().union(*(m["_covers"] for m in members))})
    return kept


def finding_changes(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """New and fixed findings per implementation since ``previous`` (by the differences they stand
    for: ``_shapes``). An
    implementation is compared only where both reports hold findings for it (reports before
    findings existed carry none): ``not_compared`` names the others."""
    out: dict[str, Any] = {"new_findings": [], "fixed_findings": [], "not_compared": []}
    if previous is None:
        return out
    now, then = implementation_findings(current), implementation_findings(previous)
    had = {r["implementation"] for r in previous.get("runs", []) if "findings" in r}
    for impl in sorted(set(now) | {r["implementation"] for r in current.get("runs", [])}):
        if impl not in had:
            out["not_compared"].append(impl)
            continue
        a, b = now.get(impl, []), then.get(impl, [])
        seen_now = set().union(set(), *(_shapes(f) for f in a))
        seen_then = set().union(set(), *(_shapes(f) for f in b))
        out["new_findings"] += [{"implementation": impl, "class": f["class"], "title": f["title"], "signature": f["signature"]}
                                for f in a if not _shapes(f) & seen_then]
        out["fixed_findings"] += [{"implementation": impl, "class": f["class"], "title": f["title"], "signature": f["signature"]}
                                  for f in b if not _shapes(f) & seen_now]
    return out


def _shapes(finding: dict[str, Any]) -> set[str]:
    """The signatures a finding stands for: its own and its members' (a region's or a case's), so a
    finding regrouped between two reports (a difference now counted in its region) is neither new
    nor fixed while any of its differences persists."""
    return {finding["signature"]} | {m["signature"] for m in finding.get("members", [])}


def issue_markdown(impl: str, finding: dict[str, Any], results: dict[str, Any], *, script: str | None = None) -> str:
    env = results.get("environments", {}).get(impl, {})
    versions = ", ".join(f"{k} {v}" for k, v in sorted(env.items()) if k not in ("ok", "env", "executable"))
    rep = finding.get("reproduction") or {}
    lines = [f"# {finding['title']}", "",
             f"**Class:** {finding['class']} · **tests:** {finding['tests']} in {len(finding['runs'])} run(s): "
             + ", ".join(f"`{r}`" for r in finding["runs"][:12]), "",
             f"**Environment:** {versions or 'see results.json'}", ""]
    if finding.get("members"):
        where = ("in the one case the title names" if finding["signature"].startswith("case|") else
                 "all in the part of the conversation the title names (usually one behaviour; where two, both are here)")
        lines += [f"It shows as these first divergences, depending on the call and the case, {where}:", ""]
        lines += [f"- {m['title']}: {m['tests']} test(s)" for m in finding["members"]] + [""]
    if script:
        lines += ["## Reproduction (the library and `transformers` alone)", "",
                  "Fails while the finding stands; prints the first divergence side by side.", "",
                  "```python", script.rstrip(), "```", ""]
    if rep:
        lines += ["## Reproduction" + (" in the conformance suite" if script else ""), "",
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
