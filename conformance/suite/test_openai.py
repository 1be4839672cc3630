"""OpenAI round trip: the golden completion, turned into an OpenAI chat message by the renderer
(``to_openai_message``), sent over the wire (serialized to JSON and back, as an OpenAI-compatible
client does) and rendered by the model's template after the conversation's earlier messages, gives
the conversation's full render, id for id. A difference is the exact drift: a boolean written
``True``, a number or a key order changed, a tool call id lost, reasoning moved into the content.

The template renders the message as the oracle renders every message (content encoded as text,
tool arguments handed over as the registry's ``tool_arguments`` says), so the expectation is the
golden full render itself. Judged where the renderer parses the completion right (a wrong parse is
the round trip's finding).

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import json

import pytest

from conformance.fixtures.golden_record import Render
from conformance.oracle import TemplateRenderError
from conformance.suite.support import JUDGED_BY, dumps, golden_completion, parse_problems, repro, skip_template_fact, token_diff


def test_openai_message_renders_back_to_the_conversation(conformance_ctx, renderer, case):
    ctx = conformance_ctx
    ids, expected, why = golden_completion(ctx, case, "openai_message")
    if expected is None:
        skip_template_fact("no defined parse", why)
    g = ctx.golden(case)
    if not isinstance(g.full, Render):
        skip_template_fact("no full render", str(g.full))
    if parse_problems(renderer.parse_response(list(ids)), expected):
        # One root cause, one area: a message built from a wrong parse is wrong for that reason.
        pytest.skip(f"{JUDGED_BY} roundtrip: the renderer's parse of this completion differs from the message")
    call = "json.loads(json.dumps(renderer.to_openai_message(golden_completion_ids)))"
    sent = renderer.to_openai_message(list(ids))
    try:
        wire = json.loads(json.dumps(sent))
    except (TypeError, ValueError) as e:
        pytest.fail(f"the OpenAI message is not JSON: {type(e).__name__}: {e}\n{repro(ctx, case, call)}", pytrace=False)
    messages = case.messages_list()[:-1] + [wire]
    try:
        got = ctx.oracle.encode(messages, case.tools_list(), ctx.variant, add_generation_prompt=False, cross_check=False).ids
    except TemplateRenderError as e:
        pytest.fail(f"the template cannot render the OpenAI message: {e}\n    message: {dumps(wire)}\n{repro(ctx, case, call)}",
                    pytrace=False)
    want = g.full.ids  # the message is rendered with content as text, whatever the injection policy
    if got != want:
        diff = token_diff(ctx.tokenizer, want, got, what="full conversation")
        pytest.fail(f"the OpenAI message renders other ids than the conversation\n    message: {dumps(wire)}\n"
                    f"{repro(ctx, case, call)}{diff}", pytrace=False)
