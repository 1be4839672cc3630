"""Every check can fail: each mutant in tests/mutants.py is caught by the check it targets, and
by no other area (but the generated area where it re-checks the same guarantee).

Each run is a real ``pytest --renderer tests.mutants:X --model Qwen/Qwen3-8B`` (GLM mutants: ``--model
zai-org/GLM-5.2``) in the test process (``tests/inprocess.py``), and we assert the expected tests
fail, nothing else does, and the verdict is NOT CERTIFIED.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from inprocess import certify

QWEN, GLM, QWEN_VL = "Qwen/Qwen3-8B", "zai-org/GLM-5.2", "Qwen/Qwen3.5-9B"
PARITY = "template_parity"
GENERATED = "generated"


@dataclass(frozen=True)
class Mutant:
    """What a mutant must fail (test-id prefixes), and the only other areas allowed to fail with it.

    ``also`` names areas that check the same guarantee on other material (the generated area
    re-checks parity and parsing on random conversations); any other failing area means the
    mutant breaks more than the check it is meant to prove."""

    catches: tuple[str, ...]
    also: tuple[str, ...] = ()
    model: str = QWEN
    options: tuple[str, ...] = ()


_WEIGHTS = "test_loss_weights.py::test_supervised_weights_select_the_sampled_tokens"
MUTANTS: dict[str, Mutant] = {
    "DroppedSeamNewline": Mutant(("test_template_parity.py::test_full_conversation_matches_template",), also=(GENERATED,)),
    "SystemPromptMissingFromGenerationPrompt": Mutant(("test_template_parity.py::test_generation_prompt_matches_template",),
                                                      also=(GENERATED,)),
    "IgnoresPrefill": Mutant(("test_template_parity.py::test_generation_prompt_with_prefill_is_the_prompt_then_the_text",)),
    "OpensEveryTurnAsAssistant": Mutant(("test_template_parity.py::test_generation_prompt_for_a_user_turn_matches_template",)),
    "ToolPrefixWithoutSystemPrompt": Mutant(
        ("test_template_parity.py::test_tool_prefix_then_conversation_is_the_template_with_tools[tools-with-system]",)),
    "WrongStopId": Mutant(("test_stop_sequences.py::test_stop_ids_include_the_turn_closing_id",)),
    "PlainTextStopId": Mutant(("test_stop_sequences.py::test_stop_ids_are_special_tokens",)),
    "StopsOnThinkClose": Mutant(("test_stop_sequences.py::test_stop_ids_never_cut_an_assistant_turn",)),
    "PythonBooleans": Mutant(("test_template_parity.py::test_full_conversation_matches_template[tools-args-booleans]",
                              "test_template_parity.py::test_full_conversation_matches_template[tools-args-null]"), also=(GENERATED,)),
    "AsciiEscapedArguments": Mutant(("test_template_parity.py::test_full_conversation_matches_template[tools-args-unicode]",),
                                    also=(GENERATED,)),
    # Typed-number bugs in the final message need more generated examples than the default 25
    # before one ends on a tool call with an integer argument (the first at 70 examples with the
    # pinned hypothesis; 150 keeps twice that, 300 cost 35 s).
    "IntegersParsedAsFloats": Mutant(("test_roundtrip.py::test_completion_parses_back_to_the_message[tools-args-numbers]",
                                      "test_generated.py::test_generated_completions_parse_back"),
                                     options=("--conformance-examples", "150")),
    "ThinkingDroppedFromLastTurn": Mutant(("test_template_parity.py::test_full_conversation_matches_template[reasoning-last-turn]",),
                                          also=(GENERATED,)),
    "RerenderingBridge": Mutant(("test_bridge.py::test_bridge_keeps_history_byte_for_byte",)),
    "BridgesAssistantMessages": Mutant(("test_bridge.py::test_bridge_refuses_new_assistant_messages",)),
    "LeavesTruncatedTurnOpen": Mutant(("test_bridge.py::test_bridge_closes_a_truncated_completion",)),
    "StreamsMarkupAsText": Mutant(("test_streaming.py::test_streamed_deltas_add_up_to_the_one_shot_parse",), also=(GENERATED,)),
    "DecodesChunksAlone": Mutant(("test_generated.py::test_generated_completions_stream_in_any_chunks",)),
    "PythonReprArguments": Mutant(("test_openai.py::test_openai_message_renders_back_to_the_conversation[tools-args-booleans]",)),
    "CleanWhenTruncated": Mutant(("test_roundtrip.py::test_truncated_completion_is_not_clean",)),
    "RaisesOnGarbage": Mutant(("test_roundtrip.py::test_garbage_ids_do_not_raise",)),
    "Unpicklable": Mutant(("test_pickle.py::test_pickle_roundtrip_behaves_identically",
                           "test_pickle.py::test_pickle_into_a_spawned_process")),
    # A race is a matter of chance: 5 s of tries instead of the default 0.5 (see test_threads.py).
    "SharedScratch": Mutant(("test_threads.py::test_calls_from_many_threads_give_what_they_give_alone",),
                            options=("--conformance-thread-seconds", "5")),
    "SpecialTokensInUserText": Mutant(("test_injection.py::test_look_alike_text_never_becomes_a_special_token[inject-chatml-user-prompt]",
                                       "test_injection.py::test_generated_look_alikes_render_as_text")),
    "TrainsOnPrompt": Mutant((_WEIGHTS,)),
    "IgnoresTrainFlags": Mutant((f"{_WEIGHTS}[basic-system-single-turn-customized]",)),
    "PerTurnExamplesTrainThePrompt": Mutant(("test_loss_weights.py::test_per_turn_examples_are_what_the_model_sampled",)),
    "TrainsOnRoleHeaders": Mutant((f"{_WEIGHTS}[basic-system-single-turn-all_messages]",)),
    "FalseExtensionClaim": Mutant(("test_extension.py::test_claimed_extension_holds",)),
    "ShiftedMessageIndices": Mutant(("test_template_parity.py::test_message_attribution_matches_template[basic-single-turn]",)),
    # A crash on a case the template renders lossily is a failure, not an allowed refusal.
    "CrashesOnLongReasoningHistories": Mutant((
        "test_template_parity.py::test_full_conversation_matches_template[reasoning-earlier-turn-long-history]",
        f"{_WEIGHTS}[reasoning-earlier-turn-long-history-",
        "test_generated.py::test_generated_conversations_match_template",
    ), also=("extension", "injection")),  # a crash fails every area whose calls reach it: it is a crash, wherever it happens
    # GLM-5 (no token of its own closes a turn; conformance/oracle/turn_end.py)
    "UnclosedFinalTurn": Mutant((f"{_WEIGHTS}[basic-single-turn-last_assistant_message]", f"{_WEIGHTS}[tools-single-call-all_tokens]"),
                                model=GLM),
    "EndOfTextClosesFinalTurn": Mutant((f"{_WEIGHTS}[basic-single-turn-last_assistant_message]",), model=GLM),
    "MarkersAreNotStops": Mutant(("test_stop_sequences.py::test_stop_ids_include_the_turn_closing_id",
                                  "test_roundtrip.py::test_completion_parses_back_to_the_message[basic-single-turn]"),
                                 also=(GENERATED,), model=GLM),
    "DoubledMarkerBridge": Mutant(("test_bridge.py::test_bridge_keeps_history_byte_for_byte[basic-two-turns]",), model=GLM),
    # Images (a vision model: Qwen3.5; its text-only certification is unchanged by both)
    "UnmergedImagePatches": Mutant(("test_images.py::test_image_generation_prompt[image-describe]",
                                    "test_images.py::test_image_full_render[image-two-turns]"), model=QWEN_VL),
    "TrainsOnImages": Mutant(("test_images.py::test_image_supervised_weights[image-describe-last_assistant_message]",),
                             model=QWEN_VL),
}


def _area(prefix: str) -> str:
    from conformance.suite.areas import area_of

    return area_of(prefix)


def _certify(tmp_path, capsys, monkeypatch, spec: str, *extra: str, model: str = QWEN):
    return certify(tmp_path, capsys, monkeypatch, "--renderer", spec, "--model", model, *extra)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught_by_its_check_and_only_there(tmp_path, capsys, monkeypatch, name):
    mutant = MUTANTS[name]
    # A failing generated test shrinks; 2 s each is enough to show where it fails.
    run = _certify(tmp_path, capsys, monkeypatch, f"tests.mutants:{name}", "--conformance-shrink-seconds", "2", *mutant.options,
                   model=mutant.model)
    assert run.report is not None, run.output[-3000:]
    failed = run.failing()
    for prefix in mutant.catches:
        assert any(f.startswith(prefix) for f in failed), f"{name} not caught by {prefix}; failed: {failed[:20]}"
    allowed = {_area(p) for p in mutant.catches} | set(mutant.also)
    elsewhere = sorted({t["area"] for t in run.report["tests"] if t["outcome"] in ("failed", "error", "xpassed")} - allowed)
    assert not elsewhere, f"{name} also fails {elsewhere}: it breaks more than the check it proves ({[f for f in failed][:10]})"
    assert run.report["verdict"] == "NOT CERTIFIED"
    assert "verdict: NOT CERTIFIED" in run.output


def test_every_check_of_the_suite_has_a_mutant():
    """Each test function of conformance/suite is named by some mutant's ``catches``."""
    import ast
    from pathlib import Path

    import conformance.suite as suite

    checks = set()
    for path in Path(suite.__file__).parent.glob("test_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                checks.add(f"{path.name}::{node.name}")
    covered = {c for c in checks for m in MUTANTS.values() for p in m.catches if p.startswith(c)}
    # A witness for an unclaimed extension property only warns (a false "no" costs nothing).
    exempt = {"test_extension.py::test_unclaimed_extension_has_a_witness"}
    assert checks - covered - exempt == set(), "checks without a mutant that proves they can fail"


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
