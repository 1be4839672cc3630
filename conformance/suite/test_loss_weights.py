"""Loss weights: a supervised example trains on exactly the ids the model samples for the chosen
assistant messages (through their end-of-turn token), derived from the oracle. Its ids are the full
render, followed by the golden's ``supervised_tail`` where the template closes a turn only with the
next message's marker (GLM-5: the final answer ends with the ``<|user|>`` the model samples; see
:mod:`conformance.oracle.turn_end`).

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import pytest

from conformance.fixtures.golden_record import NotSampled, Reason, Sampled
from conformance.oracle.turn_spans import ids_sha256
from conformance.protocol import CUSTOMIZED, TRAIN_ON_CHOICES, TRAIN_ON_TURNS, chosen_turns
from conformance.suite.support import (
    JUDGED_BY,
    assert_ids_equal,
    benign_tail,
    call_or_refusal,
    derived,
    judged_by_injection,
    literal_positions_unknown,
    repro,
    require,
    require_case_capabilities,
    skip_template_fact,
)


def _trained_spans(g, case, train_on):
    """The spans ``train_on`` weighs 1, and the messages to pass: the golden's own choice, or for
    ``customized`` the flagged messages' spans as ``all_messages`` trains them."""
    if train_on != CUSTOMIZED:
        return derived(g.weights[train_on], f"{train_on} weights are not derivable").spans, case.messages_list()
    msgs = case.flagged_messages()
    per_message = g.message_spans([m["role"] for m in msgs])
    if isinstance(per_message, Reason):
        skip_template_fact(f"{train_on} weights are not derivable", per_message.error)
    return [per_message[k] for k, m in enumerate(msgs) if m["trainable"]], msgs


@pytest.mark.parametrize("train_on", TRAIN_ON_CHOICES)
def test_supervised_weights_select_the_sampled_tokens(conformance_ctx, renderer, case, train_on):
    require(conformance_ctx, "supervised")
    if train_on not in renderer.capabilities.train_on:
        pytest.skip(f"capability not claimed: train_on={train_on}")
    require_case_capabilities(conformance_ctx, case)
    g = conformance_ctx.golden(case)
    literal_positions_unknown(conformance_ctx, g)
    spans, msgs = _trained_spans(g, case, train_on)
    full = derived(g.full, "no full render")
    ex = call_or_refusal(g, lambda: renderer.build_supervised_example(msgs, tools=case.tools_list(), train_on=train_on))
    tail = g.tail_ids
    expected_ids = conformance_ctx.expected_ids(full) + tail
    call = (f"renderer.build_supervised_example(messages, tools=tools, train_on={train_on!r})" if train_on != CUSTOMIZED else
            f"renderer.build_supervised_example(case.flagged_messages(), tools=tools, train_on={train_on!r})")
    if list(ex.ids) != expected_ids and not benign_tail(conformance_ctx.tokenizer, expected_ids, ex.ids, conformance_ctx.oracle_stop_ids):
        _judged_elsewhere(conformance_ctx, renderer, case, full, list(ex.ids), tail)
    # A benign difference (the template's text after the final end-of-turn token missing) is
    # noted, and the weights are still judged on the ids the example has.
    assert_ids_equal(conformance_ctx, case, expected_ids, ex.ids, "supervised example ids", call, benign_ok=True)
    assert len(ex.weights) == len(ex.ids), f"{len(ex.weights)} weights for {len(ex.ids)} ids"
    expected = set()
    for start, end in spans:
        expected.update(range(start, min(end, len(ex.ids))))
    got = {i for i, x in enumerate(ex.weights) if x > 0}
    if got != expected:
        tok = conformance_ctx.tokenizer
        extra = sorted(got - expected)[:8]
        missing = sorted(expected - got)[:8]
        show = lambda ids: ", ".join(f"{i}:{tok.decode([ex.ids[i]])!r}" for i in ids)  # noqa: E731
        pytest.fail(
            f"weights select the wrong tokens for {train_on}\n{repro(conformance_ctx, case, call)}"
            f"trained but should not be: [{show(extra)}]\nnot trained but should be: [{show(missing)}]",
            pytrace=False,
        )


def _judged_elsewhere(ctx, renderer, case, full, ids, tail):
    """One root cause, one area: a supervised example whose ids are the renderer's own full render
    is wrong exactly where that render is, which template_parity judges (or, where that render is
    the template's literal ids, injection). Only a difference of the example itself counts here."""
    literal = full.literal_ids
    judged_by_injection(None if literal is None else list(literal) + tail, ids)
    if renderer.capabilities.full_render:
        try:
            own = list(renderer.render(case.messages_list(), tools=case.tools_list()).ids) + tail
        except Exception:  # noqa: BLE001 - the render's own failure is judged by template_parity
            return
        if own == ids:
            pytest.skip(f"{JUDGED_BY} template_parity: the example's ids are the renderer's full render, which differs from the template's")


@pytest.mark.parametrize("train_on", TRAIN_ON_TURNS)
def test_per_turn_examples_are_what_the_model_sampled(conformance_ctx, renderer, case, train_on):
    """``build_supervised_examples``: one example per chosen assistant turn, exactly its generation
    prompt (weight 0) followed by the completion the model sampled for it (weight 1)."""
    if train_on not in renderer.capabilities.supervised_examples:
        pytest.skip(f"capability not claimed: supervised_examples train_on={train_on}")
    require_case_capabilities(conformance_ctx, case)
    g = conformance_ctx.golden(case)
    derived(g.full, "no full render")
    msgs = case.messages_list()
    by_message = {e.message: e for e in g.sampled_examples or ()}
    chosen = chosen_turns(msgs, train_on)
    errors = [e.error for k in chosen if isinstance(e := by_message[k], NotSampled)]
    if errors:
        skip_template_fact(f"turn {train_on} examples are not derivable", errors[0])
    sampled = {k: e for k, e in by_message.items() if isinstance(e, Sampled)}
    got = call_or_refusal(g, renderer.build_supervised_examples, msgs, tools=case.tools_list(), train_on=train_on)
    call = f"renderer.build_supervised_examples(messages, tools=tools, train_on={train_on!r})"
    assert len(got) == len(chosen), f"{len(got)} examples for the {len(chosen)} assistant turns {chosen} of {train_on}"
    for ex, k in zip(got, chosen):
        want = sampled[k]
        n = want.prompt_len
        completion = list(want.completion.ids)
        if ids_sha256(list(ex.ids[:n])) == want.prompt_sha256 and list(ex.ids[n:]) == completion:
            prompt = list(ex.ids[:n])
        else:  # the goldens keep the prompt's fingerprint; the oracle shows its ids
            prompt = conformance_ctx.oracle.encode(msgs[:k], case.tools_list(), conformance_ctx.variant, add_generation_prompt=True).ids
            _turn_judged_by_parity(conformance_ctx, renderer, case, k, prompt)
        assert_ids_equal(conformance_ctx, case, prompt + completion, list(ex.ids),
                         f"the example of message {k} (its generation prompt, then the completion the model sampled)", call)
        expected_w = [0.0] * n + [1.0] * len(want.completion)
        assert [float(w) for w in ex.weights] == expected_w, (
            f"the example of message {k} weighs its prompt 0 and its completion 1: got "
            f"{sum(1 for w in ex.weights[:n] if w)} weighted prompt tokens, {sum(1 for w in ex.weights[n:] if not w)} unweighted "
            f"completion tokens\n{repro(conformance_ctx, case, call)}")


def _turn_judged_by_parity(ctx, renderer, case, k, oracle_prompt):
    """One root cause, one area: a per-turn example is the renderer's own generation prompt and
    turn; where either already differs from the template's, template_parity judges that."""
    msgs, tools = case.messages_list(), case.tools_list()
    if list(renderer.build_generation_prompt(msgs[:k], tools=tools)) != list(oracle_prompt):
        pytest.skip(f"{JUDGED_BY} template_parity: the renderer's generation prompt before message {k} differs from the template's")
    if renderer.capabilities.full_render:
        own = list(renderer.render(msgs[: k + 1], tools=tools).ids)
        if own != ctx.oracle.encode(msgs[: k + 1], tools, ctx.variant, add_generation_prompt=False).ids:
            pytest.skip(f"{JUDGED_BY} template_parity: the renderer's render of messages[:{k + 1}] differs from the template's")
