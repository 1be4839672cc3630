"""The bar for reference_renderers: CERTIFIED on every registered model and variant, with an empty
xfails file. Each run is the real ``pytest --renderer ... --model ...`` in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.registry import get_model, load_registry
from reference_renderers import HAND_WRITTEN

REPO = Path(__file__).resolve().parent.parent

# Every registered model and variant: its family's hand-written renderer, and the template fallback.
RUNS = [(f"reference_renderers:{HAND_WRITTEN[e.family]}", e.model_id, v) for e in load_registry().values() for v in e.variants]
RUNS += [("reference_renderers:TemplateRenderer", e.model_id, v) for e in load_registry().values() for v in e.variants]


def test_every_registered_family_has_a_hand_written_renderer():
    missing = sorted({e.family for e in load_registry().values()} - set(HAND_WRITTEN))
    assert not missing, f"families without a hand-written reference renderer: {missing}"
    assert get_model("Qwen/Qwen3-8B").family == "qwen3"


@pytest.mark.slow
@pytest.mark.parametrize("spec, model, variant", RUNS, ids=[f"{s.split(':')[1]}-{m}-{v}" for s, m, v in RUNS])
def test_reference_renderer_is_certified(pytester, spec, model, variant):
    pytester.syspathinsert(REPO)
    empty = pytester.path / "xfails.txt"
    empty.write_text("")
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "--renderer",
        spec,
        "--model",
        model,
        "--conformance-variant",
        variant,
        "--conformance-xfails",
        str(empty),
        "--conformance-report",
        str(report),
        "-q",
        "-p",
        "no:cacheprovider",
    )
    data = json.loads(report.read_text())
    failing = [t["nodeid"] for t in data["tests"] if t["outcome"] in ("failed", "error", "xpassed")]
    assert data["verdict"] == "CERTIFIED", f"{data['problems']}; failing: {failing[:10]}"
    assert result.ret == 0
