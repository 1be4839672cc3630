"""Role-boundary injection: user, system or tool text that spells a special token never renders
to a special-token id (README: "Special-token text in content")."""

from __future__ import annotations

import pytest

from conformance.suite.support import ids_of, prompt_messages, repro, require_case_capabilities


def _specials(ctx, ids):
    return sum(1 for i in ids if i in ctx.added_token_ids)


@pytest.mark.parametrize("part", ["prompt", "full"])
def test_look_alike_text_never_becomes_a_special_token(conformance_ctx, renderer, look_alike_case, part):
    case = look_alike_case
    require_case_capabilities(conformance_ctx, case)
    g = conformance_ctx.golden(case)
    if g[part].get("error"):
        pytest.skip(f"template fact: {g[part]['error']}")
    if part == "prompt":
        got = renderer.build_generation_prompt(prompt_messages(case), tools=case.tools_list())
    else:
        got = renderer.render(case.messages_list(), tools=case.tools_list()).ids
    safe = ids_of(g[part]["tokens"])
    literal = g[part].get("literal_ids")
    if literal is not None and list(got) == literal:
        pytest.fail("the renderer reproduces apply_chat_template(tokenize=True): content text became special ids\n"
                    + repro(conformance_ctx, case, "renderer.render(messages, tools=tools)"), pytrace=False)
    n_got, n_safe = _specials(conformance_ctx, got), _specials(conformance_ctx, safe)
    assert n_got <= n_safe, (
        f"{n_got - n_safe} special/added token id(s) more than the template's own structure emits: "
        f"text in content became a role boundary\n" + repro(conformance_ctx, case, "renderer.render(messages, tools=tools)"))
