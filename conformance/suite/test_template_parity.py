"""Template parity: generation-prompt and full-conversation ids equal the goldens (safe ids)."""

from __future__ import annotations

from conformance.suite.support import assert_ids_equal, ids_of, prompt_messages, require_case_capabilities, skip_template_fact


def _refuses_lossy(golden, fn):
    """A renderer may refuse (raise) a case the template renders lossily; it may not differ."""
    try:
        return fn()
    except Exception:
        if golden.get("dropped"):
            import pytest

            pytest.skip(f"template fact: the template drops {golden['dropped']}; the renderer refuses the case (allowed)")
        raise


def test_generation_prompt_matches_template(conformance_ctx, renderer, case):
    require_case_capabilities(conformance_ctx, case)
    g = conformance_ctx.golden(case)
    if g["prompt"].get("error"):
        skip_template_fact("the template cannot render the generation prompt", g["prompt"]["error"])
    got = _refuses_lossy(g, lambda: renderer.build_generation_prompt(prompt_messages(case), tools=case.tools_list()))
    assert_ids_equal(conformance_ctx, case, ids_of(g["prompt"]["tokens"]), got, "generation prompt",
                     "renderer.build_generation_prompt(messages[:-1] if messages[-1]['role'] == 'assistant' else messages, tools=tools)")


def test_full_conversation_matches_template(conformance_ctx, renderer, case):
    require_case_capabilities(conformance_ctx, case)
    g = conformance_ctx.golden(case)
    if g["full"].get("error"):
        skip_template_fact("no full render", g["full"]["error"])
    got = _refuses_lossy(g, lambda: renderer.render(case.messages_list(), tools=case.tools_list()).ids)
    assert_ids_equal(conformance_ctx, case, ids_of(g["full"]["tokens"]), got, "full conversation",
                     "renderer.render(messages, tools=tools).ids")
