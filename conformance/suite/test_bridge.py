"""Bridge: ``bridge_to_next_turn`` keeps prev_prompt + prev_completion byte for byte, refuses new
assistant messages, closes a truncated completion as the template would, and equals the full
render wherever the template is prefix-stable.

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import pytest

from conformance.suite.support import call_or_refusal, derived, repro, require, require_case_capabilities, token_diff
from conformance.suite.test_extension import turn_pairs


def _boundaries(ctx, renderer, case):
    require(ctx, "bridge")
    require_case_capabilities(ctx, case)
    derived(ctx.golden(case).full, "no full render")
    msgs = case.messages_list()
    pairs = call_or_refusal(ctx.golden(case), lambda: list(turn_pairs(renderer, case, ctx.oracle_stop_ids, ctx.entry.turn_end)))
    out = [(k, k2, p, c, n, msgs[k + 1 : k2]) for k, k2, p, c, n in pairs if c is not None]
    if not out:
        pytest.skip("template fact: no assistant turn with a derivable completion is followed by another")
    return out


def test_bridge_keeps_history_byte_for_byte(conformance_ctx, renderer, multi_turn_case):
    bridged = 0
    g = conformance_ctx.golden(multi_turn_case)
    for k, k2, prompt, completion, nxt, new in _boundaries(conformance_ctx, renderer, multi_turn_case):
        out = call_or_refusal(g, renderer.bridge_to_next_turn, prompt, completion, new, tools=multi_turn_case.tools_list())
        if out is None:
            continue
        bridged += 1
        prev = prompt + completion
        if out[: len(prev)] != prev:
            pytest.fail(
                f"bridge after message {k} rewrote history\n"
                + repro(conformance_ctx, multi_turn_case, "renderer.bridge_to_next_turn(prompt, completion, new_messages)")
                + token_diff(conformance_ctx.tokenizer, prev, out[: len(prev)]),
                pytrace=False,
            )
        if nxt[: len(prev)] == prev and out != nxt:
            pytest.fail(
                f"the template is prefix-stable after message {k}, but the bridge differs from the full render of messages[:{k2}]\n"
                + repro(conformance_ctx, multi_turn_case, "renderer.bridge_to_next_turn(prompt, completion, new_messages)")
                + token_diff(conformance_ctx.tokenizer, nxt, out),
                pytrace=False,
            )
    if not bridged:
        pytest.skip("the renderer returned None for every boundary of this case (cannot prove the result)")


def test_bridge_refuses_new_assistant_messages(conformance_ctx, renderer, multi_turn_case):
    for _k, k2, prompt, completion, _nxt, new in _boundaries(conformance_ctx, renderer, multi_turn_case)[:1]:
        msgs = multi_turn_case.messages_list()
        out = call_or_refusal(conformance_ctx.golden(multi_turn_case), renderer.bridge_to_next_turn, prompt, completion,
                              new + [msgs[k2]], tools=multi_turn_case.tools_list())
        assert out is None, "bridge accepted a new assistant message: assistant turns must be sampled, never bridged"


def test_bridge_closes_a_truncated_completion(conformance_ctx, renderer, multi_turn_case):
    for k, _k2, prompt, completion, _nxt, new in _boundaries(conformance_ctx, renderer, multi_turn_case):
        g = conformance_ctx.golden(multi_turn_case)
        full = call_or_refusal(g, renderer.bridge_to_next_turn, prompt, completion, new, tools=multi_turn_case.tools_list())
        cut = call_or_refusal(g, renderer.bridge_to_next_turn, prompt, completion[:-1], new, tools=multi_turn_case.tools_list())
        if full is None or cut is None:
            continue
        assert cut[: len(prompt) + len(completion) - 1] == prompt + completion[:-1], "bridge rewrote a truncated completion"
        assert cut == full, (
            f"after a truncated completion (message {k}) the bridge does not close the turn as the template does\n"
            + token_diff(conformance_ctx.tokenizer, full, cut)
        )
        return
    pytest.skip("no boundary was bridged")
