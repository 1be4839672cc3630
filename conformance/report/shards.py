"""Sharding the parity report over machines, and merging the shards back into one report.

``conformance report --shard I/N`` runs a deterministic, time-balanced slice of the plan and writes
a *partial* ``results.json``; ``conformance report merge DIR...`` checks that the partials belong
together and writes the report an unsharded run would have written (same pages, same comparison
with the previous report).

Balance: each job weighs what its pair took in the previous report (``duration_s``); a pair with
no previous duration weighs the median of the known ones (60 s when none is known); a pair that is
not run (not served) weighs nothing. Jobs are dealt longest first to the least loaded shard, ties
broken by job key and shard index, so every machine computes the same assignment from the same
plan and previous report.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from conformance.errors import ConformanceError
from conformance.report.plan import Job

__all__ = ["Shard", "parse_shard", "assign_shards", "previous_durations", "merge_partials", "ShardMismatchError"]

_DEFAULT_SECONDS = 60.0


class ShardMismatchError(ConformanceError):
    """Partial results that do not belong to one report."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``, 1-based: ``Shard(2, 4)`` is ``2/4``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"I/N"`` with ``1 <= I <= N``; anything else is a ``ValueError`` saying so."""
    i, sep, n = text.partition("/")
    try:
        index, count = int(i), int(n)
    except ValueError:
        index = count = 0
    if not sep or count < 1 or not 1 <= index <= count:
        raise ValueError(f"--shard expects I/N with 1 <= I <= N (e.g. 1/2), got {text!r}")
    return Shard(index, count)


def previous_durations(previous: dict[str, Any] | None) -> dict[str, float]:
    """Job key -> seconds its run took in a previous report (runs that ran only)."""
    out: dict[str, float] = {}
    for r in (previous or {}).get("runs", []):
        if r.get("duration_s") is not None and r.get("status") not in ("not_served", "not_installed"):
            out[f"{r['implementation']}|{r['model']}|{r['variant']}"] = float(r["duration_s"])
    return out


def assign_shards(jobs: list[Job], count: int, durations: dict[str, float]) -> list[list[Job]]:
    """Every job in exactly one of ``count`` shards, each shard in plan order."""
    known = [d for d in durations.values() if d > 0]
    default = statistics.median(known) if known else _DEFAULT_SECONDS

    def weight(j: Job) -> float:
        return 0.0 if j.not_served else durations.get(j.key, default)

    order = {j.key: k for k, j in enumerate(jobs)}
    loads = [0.0] * count
    sizes = [0] * count
    shards: list[list[Job]] = [[] for _ in range(count)]
    for j in sorted(jobs, key=lambda j: (-weight(j), j.key)):
        # Least loaded first; among equal loads the one with fewer jobs, then the lowest index.
        s = min(range(count), key=lambda k: (loads[k], sizes[k], k))
        shards[s].append(j)
        loads[s] += weight(j)
        sizes[s] += 1
    return [sorted(s, key=lambda j: order[j.key]) for s in shards]


def _fingerprint(env: dict[str, Any]) -> dict[str, Any]:
    """What must agree between shards for an implementation's environment: library versions."""
    return {k: v for k, v in env.items() if k not in ("executable",)}


def merge_partials(partials: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(runs in plan order, environments, the shared header) of partial results that together
    cover one plan; :class:`ShardMismatchError` naming the difference otherwise."""
    if not partials:
        raise ShardMismatchError("merge needs at least one partial results.json")
    heads = [p.get("shard") for p in partials]
    if any(h is None for h in heads):
        raise ShardMismatchError("not a partial report: a results.json written without --shard has no 'shard' record")
    first = partials[0]
    count = first["shard"]["count"]
    plan = first["shard"]["plan"]
    for p in partials[1:]:
        for key, what in (("snapshots", "snapshots or goldens"), ("date", "date")):
            if p.get(key) != first.get(key):
                raise ShardMismatchError(f"shard {p['shard']['index']}/{p['shard']['count']} was run on other {what} than shard "
                                         f"{first['shard']['index']}/{count}: {_first_difference(first.get(key), p.get(key))}")
        if p["shard"]["count"] != count or p["shard"]["plan"] != plan:
            raise ShardMismatchError(f"shard {p['shard']['index']}/{p['shard']['count']} belongs to another plan than shard "
                                     f"{first['shard']['index']}/{count}")
    indices = sorted(p["shard"]["index"] for p in partials)
    if indices != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - set(indices))
        dup = sorted({i for i in indices if indices.count(i) > 1})
        raise ShardMismatchError(f"the partials do not cover the plan once: missing shard(s) {missing}, repeated {dup} (of {count})")
    envs: dict[str, Any] = {}
    for p in partials:
        for impl, env in p.get("environments", {}).items():
            if impl in envs and _fingerprint(envs[impl]) != _fingerprint(env):
                raise ShardMismatchError(f"environment of {impl!r} differs between shards (library versions): "
                                         f"{_first_difference(_fingerprint(envs[impl]), _fingerprint(env))}")
            envs.setdefault(impl, env)
    by_key = {f"{r['implementation']}|{r['model']}|{r['variant']}": r for p in partials for r in p.get("runs", [])}
    missing_runs = [k for k in plan if k not in by_key]
    if missing_runs:
        raise ShardMismatchError(f"planned pairs without a run in any partial: {missing_runs[:5]}")
    header: dict[str, Any] = {k: first[k] for k in ("date", "snapshots", "machine") if k in first}
    header["duration_s"] = max(float(p.get("duration_s", 0)) for p in partials)
    return [by_key[k] for k in plan], dict(sorted(envs.items())), header


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
    return f"{path or 'value'}: {a!r} vs {b!r}"
