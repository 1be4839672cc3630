"""The bar for reference_renderers: CERTIFIED on every registered model and variant, with an empty
xfails file. Each run is the real ``pytest --renderer ... --model ...`` in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.registry import get_model, load_registry

REPO = Path(__file__).resolve().parent.parent

RUNS = [("reference_renderers:Qwen3Renderer", "Qwen/Qwen3-8B", v) for v in ("thinking", "no_thinking")]
RUNS += [("reference_renderers:DeepSeekV3Renderer", "deepseek-ai/DeepSeek-V3", "default")]
RUNS += [("reference_renderers:GptOssRenderer", "openai/gpt-oss-20b", v) for v in ("reasoning_low", "reasoning_medium", "reasoning_high")]
RUNS += [("reference_renderers:MistralNemoRenderer", "mistralai/Mistral-Nemo-Instruct-2407", "default")]
RUNS += [
    ("reference_renderers:Llama3Renderer", "meta-llama/Llama-3.1-8B-Instruct", v)
    for v in get_model("meta-llama/Llama-3.1-8B-Instruct").variants
]
RUNS += [("reference_renderers:TemplateRenderer", e.model_id, v) for e in load_registry().values() for v in e.variants]


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
