"""The parity report's data: ``reports/nightly/<date>/results.json``.

One record per (implementation, model, variant). Certified and passing tests are counted, not
listed, so a report stays small enough to commit every night; every failing test id is listed
(that is what the next report compares against), and per area the smallest few failures are kept
whole: reason (a reproduction) and, where the check compared ids, the first divergence as data.

Schema (``schema_version`` 1)::

    {"schema_version": 1, "date": "YYYY-MM-DD", "generated": ISO time, "duration_s": ...,
     "machine": {...}, "environments": {impl: {python, versions..., ok}},
     "snapshots": {model: {snapshot, content_hash, chat_template_sha256, fidelity}},
     "runs": [{implementation, model, variant, spec, status, message, verdict, problems,
               implementation_version, adapter, areas: {area: {outcome: n}}, failing: [nodeid],
               failures: [{nodeid, area, case, outcome, reason, divergence?}], skips: {area: {reason: n}}}],
     "changes": {"new_failures": [...], "fixed": [...], "status_changes": [...], "previous": date | null}}

``status`` is one of ``certified``, ``not_certified``, ``config_error`` (the renderer could not be
built for this model: a configuration fact, e.g. a peer paired with the wrong tokenizer),
``not_served`` (the implementation has no renderer for the pair), ``not_installed`` (its
environment could not import it), ``crashed`` (no report: a timeout or a crash of pytest itself).
"""

from __future__ import annotations

import json
import platform
from collections import defaultdict
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_VERSION", "STATUSES", "compact_run", "build_results", "save_results", "load_results", "previous_results",
           "kept_report_name", "FAILURES_KEPT_PER_AREA"]

SCHEMA_VERSION = 1
STATUSES = ("certified", "not_certified", "config_error", "not_served", "not_installed", "crashed")
FAILURES_KEPT_PER_AREA = 5
_REASON_CHARS = 1600
_FAILING = ("failed", "error", "xpassed")


def _size(rec: dict[str, Any]) -> tuple[int, int, str]:
    """Smaller first: the shortest expected id list, then the shortest reason (minimal cases)."""
    div = rec.get("divergence") or {}
    return (int(div.get("expected_len", 10**9)), len(rec.get("reason", "")), rec["nodeid"])


def _skip_reason(reason: str) -> str:
    reason = reason.strip().removeprefix("Skipped: ")
    return reason[:110]


def kept_report_name(implementation: str, model: str, variant: str) -> str:
    """The file name of a run's full report under ``--keep-reports``."""
    return f"{implementation}__{model.replace('/', '__')}__{variant}.json"


def compact_run(report: dict[str, Any]) -> dict[str, Any]:
    """One ``--conformance-report`` file as a run record (see the module docstring)."""
    meta = report.get("metadata", {})
    tests = report.get("tests", [])
    failing = sorted(t["nodeid"] for t in tests if t["outcome"] in _FAILING)
    by_area: dict[str, list[dict[str, Any]]] = defaultdict(list)
    skips: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for t in tests:
        if t["outcome"] in _FAILING:
            by_area[t["area"]].append(t)
        elif t["outcome"] == "skipped":
            skips[t["area"]][_skip_reason(t.get("reason", ""))] += 1
    failures = []
    for area in sorted(by_area):
        for t in sorted(by_area[area], key=_size)[:FAILURES_KEPT_PER_AREA]:
            rec = {k: t[k] for k in ("nodeid", "area", "case", "outcome")}
            rec["reason"] = (t.get("reason") or "")[-_REASON_CHARS:]
            if t.get("divergence"):
                rec["divergence"] = t["divergence"]
            failures.append(rec)
    verdict = report.get("verdict", "NOT CERTIFIED")
    return {
        "status": "certified" if verdict == "CERTIFIED" else "not_certified",
        "verdict": verdict,
        "problems": report.get("problems", []),
        "implementation_version": meta.get("implementation_version", "unknown"),
        "implementation_type": meta.get("implementation_type", ""),
        "adapter": meta.get("adapter", ""),
        "libraries": meta.get("libraries", {}),
        "snapshot": {k: meta.get(k) for k in ("snapshot", "snapshot_content_hash", "chat_template_sha256", "fidelity",
                                               "golden_manifest_sha256")},
        "tests_s": report.get("duration_s"),
        "area_seconds": {a: round(sum(t.get("duration", 0) for t in tests if t["area"] == a), 1)
                         for a in sorted({t["area"] for t in tests})},
        "areas": report.get("areas", {}),
        "failing": failing,
        "failures": failures,
        # root causes (conformance.suite.findings): what a maintainer acts on; notes are benign
        "findings": report.get("findings", []),
        "notes": report.get("notes", []),
        "skips": {a: dict(sorted(r.items(), key=lambda kv: -kv[1])) for a, r in sorted(skips.items())},
    }


def _snapshots() -> dict[str, Any]:
    from conformance.fixtures.goldens import golden_manifest_sha256
    from conformance.fixtures.registry import load_registry

    out = {}
    for entry in load_registry().values():
        snap = entry.snapshot()
        out[entry.model_id] = {"snapshot": snap.name, "content_hash": snap.content_hash,
                               "chat_template_sha256": snap.chat_template_sha256, "fidelity": snap.manifest["fidelity"],
                               "golden_manifest_sha256": golden_manifest_sha256(entry),
                               "family": entry.family, "variants": list(entry.variants)}
    return out


def build_results(runs: list[dict[str, Any]], environments: dict[str, Any], *, date: str, generated: str,
                  duration_s: float, previous: dict[str, Any] | None = None, machine: dict[str, Any] | None = None) -> dict[str, Any]:
    import os

    from conformance.report.compare import compare

    data = {
        "schema_version": SCHEMA_VERSION,
        "date": date,
        "generated": generated,
        "duration_s": round(duration_s, 1),
        "machine": machine or {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "environments": environments,
        "snapshots": _snapshots(),
        "runs": runs,
    }
    data["changes"] = compare(data, previous)
    return data


def save_results(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def load_results(path: Path) -> dict[str, Any]:
    from conformance.errors import FixtureError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise FixtureError(f"{path}: not a readable report ({e})") from e
    if data.get("schema_version") != SCHEMA_VERSION:
        raise FixtureError(f"{path}: report schema_version {data.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    return dict(data)


def previous_results(nightly_dir: Path, before: str) -> dict[str, Any] | None:
    """The newest report in ``nightly_dir`` dated strictly before ``before`` (None if there is none)."""
    if not nightly_dir.is_dir():
        return None
    dates = sorted(p.name for p in nightly_dir.iterdir() if (p / "results.json").is_file() and p.name < before)
    return load_results(nightly_dir / dates[-1] / "results.json") if dates else None
