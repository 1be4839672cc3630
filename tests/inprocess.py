"""Certification runs inside the test process (not a test module).

A certification is a real ``pytest --renderer ... --model ...`` session; starting it in a fresh
interpreter costs an import of transformers and a tokenizer load before the first test (measured
here: 4-5 s of 7-10 s per run). Run in-process, the worker's imports and its per-process tokenizer
cache serve every run after the first.

``pytester.runpytest_inprocess`` is not used: it forgets, after each run, the modules the run
imported, and some compiled extensions (numpy) cannot be imported twice in one process. Each run
here is ``pytest.main`` in an empty working directory with the repository on ``sys.path``; the
suite's modules stay imported between runs, which is how the plugin works in any session.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

__all__ = ["Run", "certify"]


@dataclass
class Run:
    ret: int
    output: str
    report: dict[str, Any] | None

    def failing(self) -> list[str]:
        if self.report is None:
            return []
        return [t["nodeid"] for t in self.report["tests"] if t["outcome"] in ("failed", "error", "xpassed")]


def certify(tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Run:
    """Run the suite with ``args`` (``--renderer`` ..., ``--model`` ...) in ``tmp``; the JSON
    report is read back."""
    report = tmp / "report.json"
    monkeypatch.chdir(tmp)
    # As the project's CI runs (it sets CI): pytest then reports differently (full assertion diffs,
    # untruncated summary lines), and a run that is fast only without it must fail here too.
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(sys, "path", [str(REPO), *sys.path])
    capsys.readouterr()
    # The threads check's minimum (two waves) unless a test asks for more: every in-process run
    # pays it, and the project's ~80 certifications would spend 0.4 s more each on tries; the
    # SharedScratch mutant, which must race, asks for 5 s.
    threads = [] if "--conformance-thread-seconds" in args else ["--conformance-thread-seconds", "0"]
    ret = pytest.main(["-p", "no:cacheprovider", "--conformance-report", str(report), *threads, *args])
    output = capsys.readouterr().out
    data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
    return Run(int(ret), output, data)
