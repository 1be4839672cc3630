"""Adapters against the real peer libraries (never mocks).

Prime Intellect ``renderers`` is small and in the ``dev`` extra, so these run in CI. tinker-cookbook
pins an older transformers/tokenizers and needs torch, so it lives in its own environment:
``nox -s peers`` creates it and runs this module there (here its tests skip, saying so).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.adapters import adapt, detect_style
from conformance.cases import load_cases
from conformance.goldens import load_golden
from conformance.protocol import Termination
from conformance.registry import get_model

REPO = Path(__file__).resolve().parent.parent
QWEN = get_model("Qwen/Qwen3-8B")
CASES = {c.id: c for c in load_cases()}


def _ids(tokens):
    return [t[0] for t in tokens]


# ---- Prime Intellect renderers ---------------------------------------------------------------
@pytest.fixture(scope="module")
def prime_qwen():
    pytest.importorskip("renderers", reason="Prime Intellect renderers not installed (pip install renderers httpx)")
    from conformance.peers import prime

    raw = prime(QWEN.tokenizer(), model_id=QWEN.model_id, variant="thinking")
    return raw, adapt(raw, tokenizer=QWEN.tokenizer())


def test_prime_style_is_detected_and_drives_the_real_library(prime_qwen):
    raw, r = prime_qwen
    assert detect_style(raw) == "prime" and r.style == "prime"
    case = CASES["basic-two-turns"]
    g = load_golden(QWEN, "thinking", case.id)
    assert r.build_generation_prompt(case.messages_list()[:-1]) == _ids(g["prompt"]["tokens"])
    # Stop ids: Prime's own list, through the adapter.
    assert 151645 in r.stop_token_ids()


def test_prime_parse_keeps_typed_json_and_infers_termination(prime_qwen):
    _, r = prime_qwen
    g = load_golden(QWEN, "thinking", "tools-args-booleans")
    ids = _ids(g["completion"]["tokens"])
    p = r.parse_response(ids)
    assert p.termination == Termination.STOP_SEQUENCE
    assert p.tool_calls == g["completion"]["expected"]["tool_calls"]
    assert r.parse_response(ids[:-1]).termination == Termination.MALFORMED  # no stop id: not clean


def test_prime_supervised_example_and_bridge_go_through(prime_qwen):
    _, r = prime_qwen
    msgs = CASES["tools-single-call-with-response"].messages_list()
    ex = r.build_supervised_example(msgs, tools=CASES["tools-single-call-with-response"].tools_list(), train_on="all_assistant_messages")
    assert len(ex.ids) == len(ex.weights) and 0 < sum(ex.weights) < len(ex.weights)
    with pytest.raises(ValueError, match="all assistant messages only"):
        r.build_supervised_example(msgs, train_on="last_assistant_message")
    assert r.capabilities.bridge


def test_prime_certification_run_reports_the_adapter(pytester):
    pytest.importorskip("renderers")
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--renderer", "conformance.peers:prime", "--model", "Qwen/Qwen3-8B", "-p", "no:cacheprovider",
                                           "-k", "stop_sequences or roundtrip or pickle", "--conformance-report", str(report))
    data = json.loads(report.read_text())
    assert data["metadata"]["adapter"] == "prime" and data["metadata"]["implementation_version"] not in ("", "unknown")
    assert data["areas"]["roundtrip"].get("passed", 0) > 100, result.stdout.str()[-2000:]
    assert not [t for t in data["tests"] if t["outcome"] == "error"]


def test_a_peer_without_a_renderer_for_the_family_is_a_configuration_error(pytester):
    pytest.importorskip("renderers")
    result = pytester.runpytest_subprocess("--renderer", "conformance.peers:prime", "--model", "mistralai/Mistral-Nemo-Instruct-2407",
                                           "-p", "no:cacheprovider")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*no renderer for family 'mistral-nemo'*"])


# ---- tinker-cookbook (its own environment: nox -s peers) -------------------------------------
@pytest.fixture(scope="module")
def tinker_qwen():
    pytest.importorskip("tinker_cookbook", reason="tinker-cookbook lives in its own environment: run `nox -s peers`")
    from conformance.peers import tinker

    raw = tinker(QWEN.tokenizer(), model_id=QWEN.model_id, variant="thinking")
    return raw, adapt(raw, tokenizer=QWEN.tokenizer())


def test_tinker_style_is_detected_and_renders_tools(tinker_qwen):
    raw, r = tinker_qwen
    assert detect_style(raw) == "tinker" and r.capabilities.tools
    case = CASES["tools-single-call-with-response"]
    g = load_golden(QWEN, "thinking", case.id)
    assert r.build_generation_prompt(case.messages_list()[:-1], tools=case.tools_list()) == _ids(g["prompt"]["tokens"])


def test_tinker_parse_reports_its_own_termination(tinker_qwen):
    _, r = tinker_qwen
    g = load_golden(QWEN, "thinking", "reasoning-last-turn")
    ids = _ids(g["completion"]["tokens"])
    p = r.parse_response(ids)
    assert p.termination == Termination.STOP_SEQUENCE
    assert p.reasoning_content.strip() == g["completion"]["expected"]["reasoning_content"].strip()
    assert r.parse_response(ids[:-1]).termination != Termination.STOP_SEQUENCE


def test_tinker_supervised_weights_cover_the_final_answer(tinker_qwen):
    _, r = tinker_qwen
    msgs = CASES["basic-two-turns"].messages_list()
    ex = r.build_supervised_example(msgs, train_on="last_assistant_message")
    g = load_golden(QWEN, "thinking", "basic-two-turns")
    (start, end), = g["weights"]["last_assistant_message"]["spans"]
    # tinker ends the example at <|im_end|> (no trailing "\n"): the trained span itself agrees.
    assert ex.ids[start:end] == _ids(g["full"]["tokens"])[start:end]
    assert [i for i, w in enumerate(ex.weights) if w] == list(range(start, end))
