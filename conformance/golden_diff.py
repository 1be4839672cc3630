"""Compare two golden folders (before/after a tokenizer or template change) case by case."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["GoldenDiff", "diff_golden_folders", "first_record_difference"]

_PARTS = ("prompt", "full", "completion")


@dataclass
class GoldenDiff:
    old: Path
    new: Path
    changed: dict[str, str] = field(default_factory=dict)  # "variant/case" -> first divergence
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def render(self) -> str:
        lines = [
            f"golden diff {self.old.name} -> {self.new.name}: {len(self.changed)} changed, "
            f"{self.unchanged} unchanged, {len(self.added)} added, {len(self.removed)} removed"
        ]
        lines += [f"  changed {k}: {v}" for k, v in sorted(self.changed.items())]
        lines += [f"  added   {k}" for k in self.added] + [f"  removed {k}" for k in self.removed]
        return "\n".join(lines)


def first_record_difference(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The first difference between two golden records, tokens decoded old vs new; None if equal."""
    for part in _PARTS:
        a, b = old.get(part, {}), new.get(part, {})
        if a.get("error") != b.get("error"):
            return f"{part}: error {a.get('error')!r} -> {b.get('error')!r}"
        ta, tb = a.get("tokens") or [], b.get("tokens") or []
        for k, (x, y) in enumerate(zip(ta, tb)):
            if x != y:
                return f"{part} token {k}: old {x[1]!r} ({x[0]}) vs new {y[1]!r} ({y[0]})"
        if len(ta) != len(tb):
            return f"{part}: {len(ta)} -> {len(tb)} tokens (one is a prefix of the other)"
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return f"field {key!r} differs"
    return None


def diff_golden_folders(old: Path, new: Path) -> GoldenDiff:
    d = GoldenDiff(old, new)

    def files(root: Path) -> dict[str, Path]:
        if not root.is_dir():
            return {}
        return {p.relative_to(root).with_suffix("").as_posix(): p for p in root.rglob("*.json") if p.name != "manifest.json"}

    fo, fn = files(old), files(new)
    d.added = sorted(set(fn) - set(fo))
    d.removed = sorted(set(fo) - set(fn))
    for k in sorted(set(fo) & set(fn)):
        diff = first_record_difference(json.loads(fo[k].read_text(encoding="utf-8")), json.loads(fn[k].read_text(encoding="utf-8")))
        if diff is None:
            d.unchanged += 1
        else:
            d.changed[k] = diff
    return d
