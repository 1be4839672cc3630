"""Every check can fail: each mutant in tests/mutants.py is caught by the area it breaks.

Each run is a real ``pytest --renderer tests.mutants:X --model Qwen/Qwen3-8B`` (GLM mutants: ``--model
zai-org/GLM-5.2``) in the test process (``tests/inprocess.py``), and we assert the expected test
fails and the verdict is NOT CERTIFIED.
"""

from __future__ import annotations

import pytest
from inprocess import certify

# mutant -> (expected failing test-id prefixes, extra options)
MUTANTS = {
    "DroppedSeamNewline": ["test_template_parity.py::test_full_conversation_matches_template"],
    "WrongStopId": ["test_stop_sequences.py::test_stop_ids_include_the_turn_closing_id"],
    "PythonBooleans": ["test_template_parity.py::test_full_conversation_matches_template[tools-args-booleans]",
                       "test_template_parity.py::test_full_conversation_matches_template[tools-args-null]",
                       "test_generated.py::test_generated_conversations_match_template"],
    "AsciiEscapedArguments": ["test_generated.py::test_generated_conversations_match_template"],
    "IntegersParsedAsFloats": ["test_generated.py::test_generated_completions_parse_back"],
    "ThinkingDroppedFromLastTurn": ["test_template_parity.py::test_full_conversation_matches_template[reasoning-last-turn]"],
    "RerenderingBridge": ["test_bridge.py::test_bridge_keeps_history_byte_for_byte"],
    "CleanWhenTruncated": ["test_roundtrip.py::test_truncated_completion_is_not_clean"],
    "Unpicklable": ["test_pickle.py::test_pickle_roundtrip_behaves_identically", "test_pickle.py::test_pickle_into_a_spawned_process"],
    "SpecialTokensInUserText": ["test_injection.py::test_look_alike_text_never_becomes_a_special_token[inject-chatml-user-prompt]",
                                "test_generated.py::test_generated_look_alikes_render_as_text"],
    "TrainsOnPrompt": ["test_loss_weights.py::test_supervised_weights_select_the_sampled_tokens"],
    "TrainsOnRoleHeaders": [
        "test_loss_weights.py::test_supervised_weights_select_the_sampled_tokens[basic-system-single-turn-all_messages]"
    ],
    "FalseExtensionClaim": ["test_extension.py::test_claimed_extension_holds"],
    "ShiftedMessageIndices": ["test_template_parity.py::test_message_attribution_matches_template[basic-single-turn]"],
    # A crash on a case the template renders lossily is a failure, not an allowed refusal.
    "CrashesOnLongReasoningHistories": [
        "test_template_parity.py::test_full_conversation_matches_template[reasoning-earlier-turn-long-history]",
        "test_loss_weights.py::test_supervised_weights_select_the_sampled_tokens[reasoning-earlier-turn-long-history-",
        "test_generated.py::test_generated_conversations_match_template",
    ],
    # GLM-5 (no token of its own closes a turn; conformance/turn_end.py)
    "UnclosedFinalTurn": [
        "test_loss_weights.py::test_supervised_weights_select_the_sampled_tokens[basic-single-turn-last_assistant_message]",
        "test_loss_weights.py::test_supervised_weights_select_the_sampled_tokens[tools-single-call-all_tokens]",
    ],
    "EndOfTextClosesFinalTurn": [
        "test_loss_weights.py::test_supervised_weights_select_the_sampled_tokens[basic-single-turn-last_assistant_message]"
    ],
    "MarkersAreNotStops": ["test_stop_sequences.py::test_stop_ids_include_the_turn_closing_id",
                           "test_roundtrip.py::test_completion_parses_back_to_the_message[basic-single-turn]"],
    "DoubledMarkerBridge": ["test_bridge.py::test_bridge_keeps_history_byte_for_byte[basic-two-turns]"],
}


# Options a mutant's run needs: typed-number bugs in the final message need more generated
# examples than the default 25 before one ends on a tool call with an integer argument.
MUTANT_OPTIONS = {"IntegersParsedAsFloats": ["--conformance-examples", "300"]}
# Mutants of another family than Qwen3's, certified on that family's model.
_GLM_MUTANTS = ("UnclosedFinalTurn", "EndOfTextClosesFinalTurn", "MarkersAreNotStops", "DoubledMarkerBridge")
MUTANT_MODEL = {m: "zai-org/GLM-5.2" for m in _GLM_MUTANTS}


def _certify(tmp_path, capsys, monkeypatch, spec: str, *extra: str, model: str = "Qwen/Qwen3-8B"):
    return certify(tmp_path, capsys, monkeypatch, "--renderer", spec, "--model", model, *extra)


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_mutant_is_caught_by_its_area(tmp_path, capsys, monkeypatch, mutant):
    extra = list(MUTANT_OPTIONS.get(mutant, []))
    if not any("test_generated.py" in p for p in MUTANTS[mutant]):
        # A failing generated test shrinks for seconds; where it is not the area under test,
        # leave it out (the verdict is NOT CERTIFIED either way).
        extra += ["-k", "not test_generated"]
    else:
        extra += ["--conformance-shrink-seconds", "2"]
    run = _certify(tmp_path, capsys, monkeypatch, f"tests.mutants:{mutant}", *extra, model=MUTANT_MODEL.get(mutant, "Qwen/Qwen3-8B"))
    assert run.report is not None, run.output[-3000:]
    failed = run.failing()
    for prefix in MUTANTS[mutant]:
        assert any(f.startswith(prefix) for f in failed), f"{mutant} not caught by {prefix}; failed: {failed[:20]}"
    assert run.report["verdict"] == "NOT CERTIFIED"
    assert "verdict: NOT CERTIFIED" in run.output


def test_reference_renderer_is_certified_and_report_has_metadata(tmp_path, capsys, monkeypatch):
    run = _certify(tmp_path, capsys, monkeypatch, "reference_renderers:Qwen3Renderer")
    assert run.ret == 0, run.output[-3000:]
    assert "verdict: CERTIFIED" in run.output
    data = run.report
    meta = data["metadata"]
    assert meta["model"] == "Qwen/Qwen3-8B" and meta["variant"] == "thinking"
    assert meta["snapshot_content_hash"] and meta["golden_manifest_sha256"] != "missing"
    assert {"transformers", "tokenizers"} <= set(meta["libraries"])
    assert {t["area"] for t in data["tests"]} >= {"template_parity", "loss_weights", "roundtrip", "extension",
                                                  "bridge", "pickle", "stop_sequences", "injection"}


def test_a_renderer_that_refuses_exactly_the_lossy_cases_is_certified_and_its_refusals_listed(tmp_path, capsys, monkeypatch):
    run = _certify(tmp_path, capsys, monkeypatch, "tests.mutants:RefusesLossyCases")
    assert run.report is not None and run.report["verdict"] == "CERTIFIED", run.output[-3000:]
    lossy = ["reasoning-all-turns", "reasoning-earlier-turn", "reasoning-earlier-turn-long-history"]
    assert run.report["refused"] == lossy
    refusals = [t for t in run.report["tests"] if t["outcome"] == "refused"]
    assert refusals and {t["case"].split("-all_")[0].split("-last_")[0] for t in refusals} <= set(lossy)
    assert all("ValueError" in t["reason"] and "the template drops" in t["reason"] for t in refusals)
    assert f"refused 3 case(s) the template renders lossily (allowed): {', '.join(lossy)}" in run.output


def test_failure_message_is_a_reproduction(tmp_path, capsys, monkeypatch):
    run = _certify(tmp_path, capsys, monkeypatch, "tests.mutants:DroppedSeamNewline", "-k", "basic-two-turns and full_conversation")
    out = run.output
    assert "reproduce:" in out and "first divergence at token" in out
    assert "case = next(c for c in load_cases() if c.id == 'basic-two-turns')" in out
