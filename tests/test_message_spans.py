"""The all_messages spans (conformance/oracle/message_spans.py), on the real Qwen3 and Llama templates."""

from __future__ import annotations

from conformance.fixtures.golden_record import Reason
from conformance.fixtures.goldens import load_golden
from conformance.fixtures.registry import get_model
from conformance.oracle import Oracle
from conformance.oracle.message_spans import attribution_runs, body_span, runs_from_owners
from reference_renderers import Qwen3Renderer


def _text(tokens, span):
    return "".join(tokens.pieces[span[0] : span[1]])


def test_bodies_leave_out_role_headers_and_keep_the_end_of_turn_token():
    g = load_golden(get_model("Qwen/Qwen3-8B"), "thinking", "basic-system-single-turn")
    toks = g.full.tokens
    spans = g.weights["all_messages"].spans
    assert [_text(toks, s) for s in spans] == [
        "You are a concise assistant.<|im_end|>",
        "Name three primary colours.<|im_end|>",
        "<think>\n\n</think>\n\nRed, yellow and blue.<|im_end|>",
    ]


def test_llama_bodies_end_at_eot_and_skip_the_header():
    g = load_golden(get_model("meta-llama/Llama-3.1-8B-Instruct"), "default", "basic-system-single-turn")
    toks = g.full.tokens
    texts = [_text(toks, s) for s in g.weights["all_messages"].spans]
    assert texts[-2] == "Name three primary colours.<|eot_id|>"
    assert not any("<|start_header_id|>" in t for t in texts)


def test_a_template_that_rewrites_history_gives_a_reason_not_a_guess():
    # Qwen3 joins tool responses into one user block: no token belongs to one message alone.
    g = load_golden(get_model("Qwen/Qwen3-8B"), "thinking", "tools-single-call-with-response")
    assert isinstance(g.weights["all_messages"], Reason) and "not a token prefix" in g.weights["all_messages"].error


def test_body_outside_the_message_run_is_refused():
    entry = get_model("Qwen/Qwen3-8B")
    oracle = Oracle(entry)
    variant = entry.variant("thinking")
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    full = oracle.encode(msgs, None, variant, add_generation_prompt=False).ids
    render = lambda p: oracle.encode(p, None, variant, add_generation_prompt=False).ids  # noqa: E731
    # The right run: a span inside it.
    assert body_span(msgs, 0, full, (0, 6), render, oracle.stop_ids) == (3, 5)
    # A run that does not hold the content (a renderer attributing tokens wrongly): refused.
    reason = body_span(msgs, 0, full, (5, len(full)), render, oracle.stop_ids)
    assert isinstance(reason, str) and "outside its own tokens" in reason


def test_renderer_owners_give_the_same_runs_as_prefix_renders():
    r = Qwen3Renderer(model_id="Qwen/Qwen3-8B", variant="no_thinking")
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    out = r.render(msgs)
    prefix = attribution_runs(len(msgs), out.ids, lambda k: r.render(msgs[:k]).ids)
    assert not isinstance(prefix, str)
    assert runs_from_owners(out.message_indices) == {m: (s, e) for m, s, e in prefix}
