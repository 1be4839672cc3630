"""The verdict of a run, computed from every test record.

Guarantees: a failing record anywhere (any area, including a test module that is not one of the
suite's areas) makes the verdict NOT CERTIFIED; an area whose capability the renderer claims,
that ran, and in which nothing passed is a problem too (a renderer cannot be certified on skips);
refusals (a renderer raising ``ValueError`` / ``NotImplementedError`` on a case the template renders
lossily) are allowed, counted and listed by case, never mixed with skips. No records at all is
not a certification.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from conformance.suite.areas import AREAS

__all__ = ["Verdict", "judge", "group_notes", "note_records", "FAILING", "OUTCOMES"]

FAILING = ("failed", "error", "xpassed")
#: the outcome columns of a summary, in order
OUTCOMES = ("passed", "failed", "error", "skipped", "refused", "xfailed", "xpassed")


@dataclass
class Verdict:
    variant: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # case ids, sorted, each once
    findings: list[Any] = field(default_factory=list)  # conformance.suite.findings.Finding, failing tests grouped
    literal: bool = False  # judged under --conformance-injection literal
    notes: dict[str, list[str]] = field(default_factory=dict)  # benign finding -> the tests that noted it

    @property
    def certified(self) -> bool:
        return not self.problems and bool(self.counts)

    @property
    def label(self) -> str:
        if not self.certified:
            return "NOT CERTIFIED"
        return "CERTIFIED, HF-literal: message content can forge role boundaries" if self.literal else "CERTIFIED"

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.label, "problems": self.problems, "refused": self.refused,
                "findings": [f.to_json() for f in self.findings],
                "notes": note_records(self.notes),
                "areas": {a: dict(c) for a, c in self.counts.items()}}


def group_notes(records: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Benign difference -> the tests that noted it. One behaviour is one note whichever call
    showed it (a full render, a supervised example, an image example): a call named in brackets
    at the end of a note, as tests before 2026-12-07 recorded it, is not part of it."""
    notes: dict[str, list[str]] = {}
    for r in records:
        for note in r.get("notes", ()):
            notes.setdefault(re.sub(r" \([^()']*\)$", "", note), []).append(r["nodeid"])
    return notes


def note_records(notes: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Notes as a report holds them: a benign finding each, with its test count and an example."""
    return [{"class": "benign", "title": t, "tests": len(ts), "example": ts[0]} for t, ts in notes.items()]


def judge(records: Iterable[dict[str, Any]], capabilities: Any, variant: str = "", *, literal: bool = False) -> Verdict:
    """The verdict over ``records`` (``{"area", "outcome", "case", ...}``) of one variant."""
    from conformance.suite.findings import group_findings

    records = list(records)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    refused: set[str] = set()
    notes = group_notes(records)
    for r in records:
        counts[r["area"]][r["outcome"]] += 1
        if r["outcome"] == "refused" and r.get("case"):
            refused.add(str(r["case"]))
    v = Verdict(variant, {a: dict(c) for a, c in counts.items()}, refused=sorted(refused), findings=group_findings(records),
                notes=notes, literal=literal)
    known = [a.name for a in AREAS]
    for name in known + sorted(set(counts) - set(known)):
        c = counts.get(name, {})
        bad = sum(c.get(k, 0) for k in FAILING)
        if bad:
            v.problems.append(f"{name}: {bad} failing")
    for a in AREAS:
        c = counts.get(a.name) or {}
        claimed = (a.capability is None or bool(getattr(capabilities, a.capability, True))) and not (literal and a.name == "injection")
        if claimed and c and not c.get("passed") and not c.get("xfailed") and not any(c.get(k) for k in FAILING):
            v.problems.append(f"{a.name}: nothing passed although the capability is claimed")
    return v
