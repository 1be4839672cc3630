"""What a parity report certifies: every implementation x every registered model x variant.

An implementation names a ``--renderer`` spec per (model, variant) and the environment it runs in
(peers that pin other library versions get their own interpreter). A pair the implementation does
not serve is planned as ``not_served`` with the reason, so the matrix shows it as a configuration
fact instead of a wall of failures, and never silently drops it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Implementation", "Job", "all_implementations", "plan_jobs"]


@dataclass(frozen=True)
class Implementation:
    name: str
    title: str
    env: str  # environment key: "main" (the interpreter running the report) or a peer's own
    library: str  # importable module that must exist in that environment ("" = always there)
    distribution: str  # the PyPI distribution whose version is recorded


@dataclass
class Job:
    implementation: str
    model: str
    variant: str
    spec: str = ""
    not_served: str = ""  # why the implementation has no renderer for this pair ("" = it has one)
    extra_args: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.implementation}|{self.model}|{self.variant}"


_REFERENCE = Implementation("reference", "reference_renderers (ours, hand-written)", "main", "", "renderer-conformance")


def all_implementations() -> dict[str, Implementation]:
    """Our reference renderers, then every peer record (:data:`conformance.peers.PEERS`)."""
    from conformance.peers import PEERS

    return {"reference": _REFERENCE, **{p.name: Implementation(p.name, p.title, p.env, p.library, p.distribution)
                                        for p in PEERS.values()}}


def _spec(impl: str, entry: Any, variant: str) -> tuple[str, str]:
    """(--renderer spec, not-served reason) for one implementation and pair."""
    if impl == "reference":
        from reference_renderers import HAND_WRITTEN

        cls = HAND_WRITTEN.get(entry.family)
        return (f"reference_renderers:{cls}", "") if cls else ("", f"no hand-written renderer for family {entry.family!r}")
    from conformance.peers import PEERS

    why = PEERS[impl].serves(entry, variant)
    return (PEERS[impl].spec, "") if why is None else ("", why)


def plan_jobs(implementations: list[str] | None = None, models: list[str] | None = None) -> list[Job]:
    """Every (implementation, model, variant) in a stable order: implementation, then registry order."""
    from conformance.fixtures.registry import load_registry

    known = all_implementations()
    names = implementations or list(known)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"unknown implementation(s) {unknown}; known: {', '.join(known)}")
    reg = load_registry()
    if models:
        missing = sorted(set(models) - set(reg))
        if missing:
            raise ValueError(f"unknown model id(s) {missing}; known: {', '.join(reg)}")
    jobs = []
    for impl in names:
        for entry in reg.values():
            if models and entry.model_id not in models:
                continue
            for variant in entry.variants:
                spec, why = _spec(impl, entry, variant)
                jobs.append(Job(impl, entry.model_id, variant, spec, why))
    return jobs
