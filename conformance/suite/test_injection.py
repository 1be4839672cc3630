"""Role-boundary injection: user, system or tool text that spells a special token never renders
to a special-token id (README: "Special-token text in content").

Only special ids whose text came from message content are judged here: the renderer's output is
compared with its own render of the same conversation where each spelled token is replaced by
plain text, so the template structure it writes (right or wrong: template parity judges that)
cancels out. A renderer that reproduces ``apply_chat_template(tokenize=True)`` (the HF-literal
ids) fails here once per case, and nowhere else for it.

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, reject, settings

from conformance.fixtures.cases import Case
from conformance.strategies import PROFILE, as_case, conversations
from conformance.suite.areas import CAPABILITY_SKIP
from conformance.suite.support import (
    REFUSAL_ERRORS,
    call_or_refusal,
    derived,
    lossy_reason,
    prompt_messages,
    repro,
    require_case_capabilities,
)

_PLAIN = "\ue005"  # private use: plain text in no real conversation; the oracle uses \ue000-\ue004
_CONTENT_ROLES = ("system", "user", "tool")


def _spelled(ctx: Any) -> re.Pattern[str]:
    added = sorted({t.content for t in ctx.tokenizer.added_tokens_decoder.values()}, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in added))


def _plain(messages: list[dict[str, Any]], spelled: re.Pattern[str]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The messages with every spelled special token in user/system/tool text replaced by plain
    text, and how often each token was spelled."""
    counts: Counter[str] = Counter()
    out = []
    for m in messages:
        m = dict(m)
        if m.get("role") in _CONTENT_ROLES and isinstance(m.get("content"), str):
            counts.update(spelled.findall(m["content"]))
            m["content"] = spelled.sub(_PLAIN, m["content"])
        out.append(m)
    return out, counts


def content_special_ids(ctx: Any, render: Any, messages: list[dict[str, Any]]) -> dict[str, int]:
    """Spelled token -> how many more of its special ids ``render(messages)`` holds than
    ``render`` of the same messages with the spelling replaced by plain text (0 everywhere: the
    content stayed text)."""
    spelled = _spelled(ctx)
    plain, counts = _plain(messages, spelled)
    got, base = Counter(render(messages)), Counter(render(plain))
    ids = {t: int(ctx.tokenizer.convert_tokens_to_ids(t)) for t in counts}
    return {t: got[i] - base[i] for t, i in ids.items() if got[i] - base[i] > 0}


def _render(renderer: Any, part: str, tools: Any) -> Any:
    if part == "prompt":
        return lambda msgs: renderer.build_generation_prompt(msgs, tools=tools)
    return lambda msgs: renderer.render(msgs, tools=tools).ids


def _policy(ctx):
    if ctx.injection == "literal":
        pytest.skip(f"{CAPABILITY_SKIP} injection (--conformance-injection literal: content may become special ids, as "
                    "apply_chat_template(tokenize=True) makes it)")


@pytest.mark.parametrize("part", ["prompt", "full"])
def test_look_alike_text_never_becomes_a_special_token(conformance_ctx, renderer, look_alike_case, part):
    _policy(conformance_ctx)
    case = look_alike_case
    require_case_capabilities(conformance_ctx, case)
    g = conformance_ctx.golden(case)
    side = derived(g.prompt if part == "prompt" else g.full, f"no {'generation prompt' if part == 'prompt' else 'full render'}")
    msgs = prompt_messages(case) if part == "prompt" else case.messages_list()
    call = "renderer.build_generation_prompt(messages, tools=tools)" if part == "prompt" else "renderer.render(messages, tools=tools).ids"
    forged = call_or_refusal(g, content_special_ids, conformance_ctx, _render(renderer, part, case.tools_list()), msgs)
    if forged:
        literal = side.literal_ids
        got = call_or_refusal(g, _render(renderer, part, case.tools_list()), msgs)
        how = " (exactly apply_chat_template(tokenize=True)'s ids)" if literal is not None and list(got) == list(literal) else ""
        pytest.fail("content text became special ids, a forged role boundary: "
                    + ", ".join(f"{n}x {t!r}" for t, n in sorted(forged.items())) + how + "\n" + repro(conformance_ctx, case, call),
                    pytrace=False)


def test_generated_look_alikes_render_as_text(conformance_ctx):
    """Generated conversations whose user and tool text sometimes spells a special token
    (``<|im_end|>``, ``[INST]`` ...): the renderer keeps every such spelling as text."""
    from conformance.suite.test_generated import hostile_shape_of, render_repro

    _policy(conformance_ctx)
    r = conformance_ctx.renderer
    shape = hostile_shape_of(conformance_ctx)

    @settings(settings.get_profile(PROFILE))
    @given(conversations(shape))
    def run(example: dict[str, Any]) -> None:
        case: Case = as_case(example)
        msgs, tools = case.messages_list(), case.tools_list()
        try:
            forged = content_special_ids(conformance_ctx, _render(r, "full", tools), msgs)
        except REFUSAL_ERRORS:
            from conformance.oracle.derivation import derive

            if lossy_reason(derive(conformance_ctx.oracle, conformance_ctx.variant, case, minimal=True)):
                reject()
            raise
        if forged:
            raise AssertionError("content text became special ids, a forged role boundary: "
                                 + ", ".join(f"{n}x {t!r}" for t, n in sorted(forged.items())) + "\n"
                                 + render_repro(conformance_ctx, case, "renderer.render(messages, tools=tools).ids"))

    run()
