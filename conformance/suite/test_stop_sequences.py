"""Stop sequences: the stop ids include the id that closes assistant turns, are special tokens
(text can never contain one), and never occur inside a turn the model samples.

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

from conformance.fixtures.golden_record import Completion


def test_stop_ids_include_the_turn_closing_id(conformance_ctx, renderer):
    stops = set(renderer.stop_token_ids())
    closing = set()
    for c in conformance_ctx.cases:
        comp = conformance_ctx.golden(c).completion
        if isinstance(comp, Completion):
            closing.add(comp.ids[-1])
    assert closing, "no golden completion to learn the closing id from"
    missing = closing - stops
    tok = conformance_ctx.tokenizer
    assert not missing, f"stop ids {sorted(stops)} miss the id(s) that close assistant turns in the goldens: " + ", ".join(
        f"{i} {tok.decode([i])!r}" for i in sorted(missing))


def test_stop_ids_are_special_tokens(conformance_ctx, renderer):
    tok = conformance_ctx.tokenizer
    plain = [i for i in renderer.stop_token_ids() if i not in conformance_ctx.added_token_ids]
    assert not plain, "stop ids that are ordinary text tokens would cut content: " + ", ".join(f"{i} {tok.decode([i])!r}" for i in plain)


def test_stop_ids_never_cut_an_assistant_turn(conformance_ctx, renderer):
    """No stop id occurs inside a turn the model samples (before its end-of-turn token): a sampler
    stopping on it would cut the turn (a stop on ``</think>`` or ``<tool_call>``)."""
    tok = conformance_ctx.tokenizer
    stops = set(renderer.stop_token_ids())
    cut = {}
    for c in conformance_ctx.cases:
        comp = conformance_ctx.golden(c).completion
        if not isinstance(comp, Completion):
            continue
        inner = [i for i in comp.ids[:-1] if i in stops]
        if inner:
            cut.setdefault(inner[0], c.id)
    assert not cut, "stop ids that occur inside sampled turns would end them early: " + ", ".join(
        f"{i} {tok.decode([i])!r} (case {case})" for i, case in sorted(cut.items()))
