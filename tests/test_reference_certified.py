"""The bar for reference_renderers: CERTIFIED on every registered model and variant, with an empty
xfails file. Each run is the real ``pytest --renderer ... --model ... --conformance-variant all``,
one per model with every variant in it, in the test process (``tests/inprocess.py``): the worker
has imported transformers and loaded the tokenizer already, which a fresh interpreter per run and
variant paid for again.

``TemplateRenderer`` (the HF template behind our protocol) is the oracle itself, so its parity
holds by construction; its runs are deselected here and run by ``nox -s certify`` (which passes
``--template-renderer-runs``) and by the nightly report.
"""

from __future__ import annotations

import pytest
from inprocess import certify

from conformance.fixtures.registry import get_model, load_registry
from reference_renderers import HAND_WRITTEN

MODELS = list(load_registry())
RUNS = [(f"reference_renderers:{HAND_WRITTEN[get_model(m).family]}", m) for m in MODELS]
TEMPLATE_RUNS = [("reference_renderers:TemplateRenderer", m) for m in MODELS]


def test_every_registered_family_has_a_hand_written_renderer():
    missing = sorted({e.family for e in load_registry().values()} - set(HAND_WRITTEN))
    assert not missing, f"families without a hand-written reference renderer: {missing}"
    assert get_model("Qwen/Qwen3-8B").family == "qwen3"


def _certify_every_variant(tmp_path, capsys, monkeypatch, spec: str, model: str) -> None:
    empty = tmp_path / "xfails.txt"
    empty.write_text("")
    run = certify(tmp_path, capsys, monkeypatch, "--renderer", spec, "--model", model, "--conformance-variant", "all",
                  "--conformance-xfails", str(empty), "-q")
    assert run.report is not None, run.output[-3000:]
    variants = run.report["variants"]
    assert sorted(variants) == sorted(get_model(model).variants), "every variant of the model is certified in the run"
    failing = [f"[{t['variant']}] {t['nodeid']}" for t in run.report["tests"] if t["outcome"] in ("failed", "error", "xpassed")]
    assert run.report["verdict"] == "CERTIFIED", f"{run.report['problems']}; failing: {failing[:10]}"
    assert all(v["verdict"] == "CERTIFIED" for v in variants.values())
    assert run.ret == 0


@pytest.mark.slow
@pytest.mark.parametrize("spec, model", RUNS, ids=[f"{s.split(':')[1]}-{m}" for s, m in RUNS])
def test_reference_renderer_is_certified(tmp_path, capsys, monkeypatch, spec, model):
    _certify_every_variant(tmp_path, capsys, monkeypatch, spec, model)


@pytest.mark.template_renderer_runs
@pytest.mark.parametrize("spec, model", TEMPLATE_RUNS, ids=[f"TemplateRenderer-{m}" for _, m in TEMPLATE_RUNS])
def test_template_renderer_is_certified(tmp_path, capsys, monkeypatch, spec, model):
    _certify_every_variant(tmp_path, capsys, monkeypatch, spec, model)
