"""What changed since the previous report: new and fixed findings, runs whose status moved, and
the failing tests behind them.

A finding is *new* when an implementation's report holds its signature now and did not before;
*fixed* the other way round (``conformance.report.findings.finding_changes``).

A test is a *new failure* when it fails now and its run (same implementation, model, variant)
existed before without it failing; *fixed* when it failed before and its run now exists without
it failing. A run that appears or disappears, or whose status changes (``certified`` ->
``not_certified``, ``config_error`` -> ``certified`` ...), is a status change.
"""

from __future__ import annotations

from typing import Any

from conformance.report.findings import finding_changes

__all__ = ["compare", "run_key"]

_RAN = ("certified", "not_certified")


def run_key(run: dict[str, Any]) -> str:
    return f"{run['implementation']} {run['model']} [{run['variant']}]"


def compare(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"previous": None, "new_failures": [], "fixed": [], "status_changes": [], **finding_changes(current, previous)}
    if previous is None:
        return out
    out["previous"] = previous.get("date")
    before = {run_key(r): r for r in previous.get("runs", [])}
    for run in current.get("runs", []):
        key = run_key(run)
        old = before.get(key)
        old_status = old["status"] if old else "absent"
        if old_status != run["status"]:
            out["status_changes"].append({"run": key, "from": old_status, "to": run["status"]})
        if old is None or old_status not in _RAN or run["status"] not in _RAN:
            continue
        now, then = set(run.get("failing", [])), set(old.get("failing", []))
        out["new_failures"] += [{"run": key, "nodeid": n} for n in sorted(now - then)]
        out["fixed"] += [{"run": key, "nodeid": n} for n in sorted(then - now)]
    current_keys = {run_key(r) for r in current.get("runs", [])}
    out["status_changes"] += [{"run": k, "from": before[k]["status"], "to": "absent"} for k in sorted(set(before) - current_keys)]
    return out
