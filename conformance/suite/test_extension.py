"""Extension property: a claimed "yes" holds on every multi-turn case (a break is a failure); a
"no" is backed by a witness in the corpus (a false "no" is a warning).

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import warnings

import pytest

from conformance.oracle.turn_end import closing_position, with_probe
from conformance.suite.support import REFUSAL_ERRORS, call_or_refusal, lossy_reason, repro, require_case_capabilities


def turn_pairs(renderer, case, stop_ids, turn_end="token"):
    """Yield (k, k2, prompt_k, completion_k, prompt_k2) over consecutive assistant turns.

    ``completion_k`` is what the model samples for message ``k``: its render after the prompt
    through the first of the template's end-of-turn ids ``stop_ids`` (the goldens'; not the
    renderer's claim, which the stop-sequence area judges), or, where the next message's marker
    closes a turn (registry ``turn_end = "next_message"``), its render followed by the marker the
    renderer writes for message ``k + 1`` (:func:`conformance.oracle.turn_end.closing_position`). None
    when not derivable."""
    msgs, tools = case.messages_list(), case.tools_list()
    stops = set(stop_ids)
    idx = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
    for k, k2 in zip(idx, idx[1:]):
        prompt = renderer.build_generation_prompt(msgs[:k], tools=tools)
        full = renderer.render(msgs[: k + 1], tools=tools).ids
        if full[: len(prompt)] != prompt:
            completion = None
        elif turn_end == "next_message":
            continued = renderer.render(msgs[: k + 2], tools=tools).ids
            probed = renderer.render(with_probe(msgs[: k + 2], k + 1), tools=tools).ids
            j = closing_position(full, continued, probed, list(stops))
            completion = full[len(prompt) :] + [continued[j]] if isinstance(j, int) else None
        else:
            end = next((j for j in range(len(prompt), len(full)) if full[j] in stops), None)
            completion = None if end is None else full[len(prompt) : end + 1]
        yield k, k2, prompt, completion, renderer.build_generation_prompt(msgs[:k2], tools=tools)


def _breaks(renderer, case, stop_ids, turn_end):
    for k, k2, prompt, completion, nxt in turn_pairs(renderer, case, stop_ids, turn_end):
        seq = prompt + (completion or [])
        if completion is None or nxt[: len(seq)] != seq:
            return k, k2, seq, nxt
    return None


def test_claimed_extension_holds(conformance_ctx, renderer, multi_turn_case):
    if not renderer.has_extension_property:
        pytest.skip("capability not claimed: extension (see test_unclaimed_extension_has_a_witness)")
    require_case_capabilities(conformance_ctx, multi_turn_case)
    g = conformance_ctx.golden(multi_turn_case)
    b = call_or_refusal(g, lambda: _breaks(renderer, multi_turn_case, conformance_ctx.oracle_stop_ids, conformance_ctx.entry.turn_end))
    if b:
        from conformance.suite.support import token_diff

        k, k2, seq, nxt = b
        pytest.fail(
            f"has_extension_property is True but the prompt+completion of message {k} is not a prefix of the "
            f"prompt for message {k2}\n{repro(conformance_ctx, multi_turn_case, 'see conformance/suite/test_extension.py:turn_pairs')}"
            + token_diff(conformance_ctx.tokenizer, seq, nxt[: len(seq)]),
            pytrace=False,
        )


def test_unclaimed_extension_has_a_witness(conformance_ctx, renderer):
    if renderer.has_extension_property:
        pytest.skip("the renderer claims the extension property (checked per case)")
    checked = 0
    for case in conformance_ctx.cases:
        if sum(m["role"] == "assistant" for m in case.messages) < 2:
            continue
        if (case.tools and not renderer.capabilities.tools) or (
                any(m.get("reasoning_content") for m in case.messages) and not renderer.capabilities.thinking):
            continue
        try:
            b = _breaks(renderer, case, conformance_ctx.oracle_stop_ids, conformance_ctx.entry.turn_end)
        except REFUSAL_ERRORS:
            if lossy_reason(conformance_ctx.golden(case)):
                continue  # a refusal of a case the template renders lossily: no evidence either way
            raise
        checked += 1
        if b:
            return  # a witness: the "no" is honest
    if not checked:
        pytest.skip("no multi-turn case could be rendered: nothing to witness the unclaimed extension property")
    warnings.warn(
        f"has_extension_property is False, but the prefix held on all {checked} multi-turn cases: "
        "the renderer may be under-claiming",
        UserWarning,
        stacklevel=1,
    )
