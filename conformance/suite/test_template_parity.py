"""Template parity: generation-prompt and full-conversation ids equal the goldens (safe ids)."""

from __future__ import annotations

from conformance.suite.support import (
    assert_ids_equal,
    ids_of,
    prompt_messages,
    refuses_lossy,
    require_case_capabilities,
    skip_template_fact,
)


def test_generation_prompt_matches_template(conformance_ctx, renderer, case):
    require_case_capabilities(conformance_ctx, case)
    g = conformance_ctx.golden(case)
    if g["prompt"].get("error"):
        skip_template_fact("the template cannot render the generation prompt", g["prompt"]["error"])
    got = refuses_lossy(g, lambda: renderer.build_generation_prompt(prompt_messages(case), tools=case.tools_list()))
    assert_ids_equal(
        conformance_ctx,
        case,
        ids_of(g["prompt"]["tokens"]),
        got,
        "generation prompt",
        "renderer.build_generation_prompt(messages[:-1] if messages[-1]['role'] == 'assistant' else messages, tools=tools)",
    )


def test_full_conversation_matches_template(conformance_ctx, renderer, case):
    require_case_capabilities(conformance_ctx, case)
    g = conformance_ctx.golden(case)
    if g["full"].get("error"):
        skip_template_fact("no full render", g["full"]["error"])
    got = refuses_lossy(g, lambda: renderer.render(case.messages_list(), tools=case.tools_list()).ids)
    assert_ids_equal(
        conformance_ctx, case, ids_of(g["full"]["tokens"]), got, "full conversation", "renderer.render(messages, tools=tools).ids"
    )
