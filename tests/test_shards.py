"""Sharding the parity report: a deterministic, time-balanced split of the plan, and a merge that
refuses partials which do not belong together and otherwise equals an unsharded run (timings aside),
shown on a small plan with a real peer (Prime's renderers) run as separate processes."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.report.plan import Job, plan_jobs
from conformance.report.shards import ShardMismatchError, assign_shards, merge_partials, parse_shard, previous_durations

REPO = Path(__file__).resolve().parent.parent
#: Fields that measure time (or when a report was written); everything else must be equal.
TIMINGS = {"generated", "duration_s", "tests_s", "area_seconds", "duration"}


def _without_timings(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _without_timings(v) for k, v in x.items() if k not in TIMINGS}
    if isinstance(x, list):
        return [_without_timings(v) for v in x]
    return x


def test_shard_spec_is_checked():
    assert (parse_shard("2/3").index, parse_shard("2/3").count) == (2, 3) and str(parse_shard("1/1")) == "1/1"
    for bad in ("0/2", "3/2", "2", "a/b", "1/0"):
        with pytest.raises(ValueError, match="I/N"):
            parse_shard(bad)


def test_shards_cover_the_plan_once_balanced_by_previous_durations():
    jobs = plan_jobs()
    served = [j for j in jobs if not j.not_served]
    durations = {j.key: float(10 + (k * 37) % 300) for k, j in enumerate(served)}
    shards = assign_shards(jobs, 3, durations)
    keys = [j.key for s in shards for j in s]
    assert sorted(keys) == sorted(j.key for j in jobs) and len(keys) == len(set(keys))
    loads = [sum(durations.get(j.key, 0) for j in s if not j.not_served) for s in shards]
    assert max(loads) - min(loads) <= max(durations.values())  # greedy longest-first: within one job
    assert assign_shards(jobs, 3, durations) == shards  # the same on every machine
    order = {j.key: k for k, j in enumerate(jobs)}
    assert all([order[j.key] for j in s] == sorted(order[j.key] for j in s) for s in shards)
    # Unknown pairs weigh the median of the known ones; not-served pairs weigh nothing.
    two = [Job("a", "m", "v1"), Job("a", "m", "v2"), Job("a", "m", "v3"), Job("b", "m", "v1", not_served="no")]
    split = assign_shards(two, 2, {"a|m|v1": 100.0})
    assert [{j.key for j in s} for s in split] == [{"a|m|v1", "a|m|v3"}, {"a|m|v2", "b|m|v1"}]


def test_previous_durations_come_from_runs_that_ran():
    prev = {"runs": [{"implementation": "a", "model": "m", "variant": "v", "status": "certified", "duration_s": 12.5},
                     {"implementation": "b", "model": "m", "variant": "v", "status": "not_served"}]}
    assert previous_durations(prev) == {"a|m|v": 12.5}


def _partial(index: int, count: int, plan: list[str], runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema_version": 1, "date": "2026-12-04", "machine": {"cpus": 2}, "duration_s": 3.0,
            "environments": {"prime": {"ok": True, "renderers": "0.1.12", "transformers": "5.25.0", "executable": f"/m{index}/python"}},
            "snapshots": {"Qwen/Qwen3-8B": {"content_hash": "abc", "golden_manifest_sha256": "g1"}},
            "runs": runs, "shard": {"index": index, "count": count, "plan": plan}}


def test_merge_refuses_partials_that_do_not_belong_together():
    plan = ["prime|Qwen/Qwen3-8B|thinking", "prime|Qwen/Qwen3-8B|no_thinking"]
    r1 = {"implementation": "prime", "model": "Qwen/Qwen3-8B", "variant": "thinking", "status": "certified"}
    r2 = {**r1, "variant": "no_thinking"}
    a, b = _partial(1, 2, plan, [r1]), _partial(2, 2, plan, [r2])
    runs, envs, header = merge_partials([b, a])
    assert [r["variant"] for r in runs] == ["thinking", "no_thinking"] and header["date"] == "2026-12-04"
    other_goldens = copy.deepcopy(b)
    other_goldens["snapshots"]["Qwen/Qwen3-8B"]["golden_manifest_sha256"] = "g2"
    with pytest.raises(ShardMismatchError, match="other snapshots or goldens.*golden_manifest_sha256"):
        merge_partials([a, other_goldens])
    other_lib = copy.deepcopy(b)
    other_lib["environments"]["prime"]["transformers"] = "5.5.4"
    with pytest.raises(ShardMismatchError, match="environment of 'prime' differs.*transformers"):
        merge_partials([a, other_lib])
    with pytest.raises(ShardMismatchError, match=r"missing shard\(s\) \[2\]"):
        merge_partials([a])
    with pytest.raises(ShardMismatchError, match=r"repeated \[1\]"):
        merge_partials([a, a])
    with pytest.raises(ShardMismatchError, match="not a partial report"):
        merge_partials([a, {k: v for k, v in b.items() if k != "shard"}])
    with pytest.raises(ShardMismatchError, match="another plan"):
        merge_partials([a, _partial(2, 2, plan[:1], [r2])])


def _report(*args: str, cwd: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "conformance.cli", "report", "--impl", "prime", "--model", "Qwen/Qwen3-8B", "--date", "2026-12-04",
           "--select", "stop_sequences or pickle_roundtrip or basic-two-turns", "--workers", "1", "--no-latest", *args]
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(p: subprocess.Popen[str]) -> str:
    out, _ = p.communicate(timeout=900)
    assert p.returncode == 0, out[-3000:]
    return out


@pytest.mark.slow
def test_two_shards_merge_into_the_unsharded_report(tmp_path):
    pytest.importorskip("renderers")
    # Two machines' worth of work: both shards run at once as separate processes.
    shard1 = _report("--shard", "1/2", "--out", str(tmp_path / "s1"), cwd=tmp_path)
    shard2 = _report("--shard", "2/2", "--out", str(tmp_path / "s2"), cwd=tmp_path)
    _wait(shard1), _wait(shard2)
    parts = [json.loads((tmp_path / s / "results.json").read_text()) for s in ("s1", "s2")]
    assert [len(p["runs"]) for p in parts] == [1, 1] and {p["shard"]["index"] for p in parts} == {1, 2}
    _wait(_report("--out", str(tmp_path / "whole"), "--keep-reports", str(tmp_path / "kept"), cwd=tmp_path))
    # --keep-reports: each run's full pytest report, every test record with its outcome.
    kept = sorted(tmp_path.joinpath("kept").glob("prime__Qwen__Qwen3-8B__*.json"))
    assert len(kept) == 2 and all(json.loads(k.read_text())["tests"] for k in kept), kept
    out = subprocess.run([sys.executable, "-m", "conformance.cli", "report", "merge", str(tmp_path / "s1"), str(tmp_path / "s2"),
                          "--out", str(tmp_path / "merged"), "--no-latest"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    whole = json.loads((tmp_path / "whole" / "nightly" / "2026-12-04" / "results.json").read_text())
    merged = json.loads((tmp_path / "merged" / "nightly" / "2026-12-04" / "results.json").read_text())
    assert len(whole["runs"]) == 2 and all(r["status"] in ("certified", "not_certified") and r["areas"] for r in whole["runs"])
    assert _without_timings(merged) == _without_timings(whole)
    assert (tmp_path / "merged" / "nightly" / "2026-12-04" / "index.html").is_file()
    # A partial from another plan is refused with one clear line.
    bad = json.loads((tmp_path / "s2" / "results.json").read_text())
    bad["snapshots"]["Qwen/Qwen3-8B"]["golden_manifest_sha256"] = "0" * 64
    (tmp_path / "s2" / "results.json").write_text(json.dumps(bad))
    out = subprocess.run([sys.executable, "-m", "conformance.cli", "report", "merge", str(tmp_path / "s1"), str(tmp_path / "s2"),
                          "--out", str(tmp_path / "merged2")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "other snapshots or goldens" in out.stderr and "Traceback" not in out.stderr
