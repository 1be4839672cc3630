"""Generated cases: Hypothesis conversations checked live against the oracle template.

Each example is a conversation from :mod:`conformance.strategies` (unicode of every script,
whitespace at seams, reasoning, tool calls with arbitrary JSON arguments), restricted to what this
model's template can render at all (the :class:`~conformance.strategies.Shape` is read off the
goldens, e.g. no parallel calls for Llama 3.1). The oracle derives the golden on the spot; the
renderer must match its generation prompt and full render (parity), parse its completion back
(round trip) and stream it in hypothesis-chosen chunks to the same parse (streaming).
Conversations the template itself refuses are discarded, not failed.

Runs under the ``conformance`` hypothesis profile: derandomized (the same examples on every run,
so CI is reproducible), ``--conformance-examples`` examples per test. A failure shrinks to a
minimal conversation and prints it as a Python literal with both id lists from the first
divergence, decoded side by side.

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import pprint
import textwrap
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from conformance.fixtures.cases import Case
from conformance.fixtures.golden_record import Completion, Golden, Render
from conformance.strategies import PROFILE, Shape, as_case, conversations
from conformance.suite.evidence import record_note, set_current_example
from conformance.suite.support import (
    REFUSAL_ERRORS,
    benign_tail,
    lossy_reason,
    parse_problems,
    stream,
    stream_problems,
    token_diff,
)


def _profile() -> settings:
    """The ``conformance`` profile, read when a test runs: the session registers it at start-up
    (an earlier session in the same process may have registered it with other settings)."""
    return settings.get_profile(PROFILE)


def _renders(ctx: Any, case_id: str) -> bool:
    """Does the template render this builtin case's generation prompt and full conversation?"""
    try:
        g = ctx.golden(next(c for c in ctx.cases if c.id == case_id))
    except StopIteration:
        return False
    return not ({"prompt", "full"} & set(g.reasons()))


def _shape(ctx: Any, *, look_alikes: bool) -> Shape:
    caps = ctx.renderer.capabilities
    tools = caps.tools and _renders(ctx, "tools-single-call-with-response")
    return Shape(
        reasoning=caps.thinking and bool(ctx.entry.reasoning_field),
        tools=tools,
        parallel_calls=tools and _renders(ctx, "tools-parallel-calls"),
        look_alikes=look_alikes,
    )


@pytest.fixture(scope="module")
def shape(conformance_ctx: Any) -> Shape:
    """Conversations without special-token spellings: failures are about rendering."""
    return _shape(conformance_ctx, look_alikes=False)


def hostile_shape_of(ctx: Any) -> Shape:
    """User and tool text that sometimes spells a special token (``<|im_end|>``, ``[INST]`` ...):
    the injection area's generated conversations."""
    return _shape(ctx, look_alikes=True)


def _golden(ctx: Any, case: Case) -> Golden:
    from conformance.oracle.derivation import derive

    g = derive(ctx.oracle, ctx.variant, case, minimal=True)
    if {"prompt", "full"} & set(g.reasons()):
        reject()  # the template cannot render it: a fact about the template, not the renderer
    return g


def render_repro(ctx: Any, case: Case, call: str) -> str:
    tools = "TOOLS  # from conformance.strategies import TOOLS" if case.tools is not None else "None"
    return (
        f"generated conversation on {ctx.entry.model_id} [{ctx.variant.name}]\n"
        "reproduce:\n"
        f"    messages = {textwrap.indent(pprint.pformat(case.messages_list(), width=100, sort_dicts=False), ' ' * 15).lstrip()}\n"
        f"    tools = {tools}\n"
        f"    renderer = ...  # {ctx.spec}\n"
        f"    {call}\n"
    )


def _call(ctx: Any, golden: Golden, fn: Any) -> Any:
    try:
        return fn()
    except REFUSAL_ERRORS:
        if lossy_reason(golden):
            reject()  # the template renders it lossily; a renderer may refuse such input
        raise


def _check_parity(ctx: Any, example: dict[str, Any]) -> None:
    case = as_case(example)
    set_current_example(case.messages_list())
    g = _golden(ctx, case)
    r = ctx.renderer
    msgs, tools = case.messages_list(), case.tools_list()
    checks = [
        ("generation prompt", g.prompt, lambda: r.build_generation_prompt(msgs[:-1], tools=tools),
         "renderer.build_generation_prompt(messages[:-1], tools=tools)"),
        ("full conversation", g.full, lambda: r.render(msgs, tools=tools).ids, "renderer.render(messages, tools=tools).ids"),
    ][: 2 if r.capabilities.full_render else 1]
    for what, side, fn, call in checks:
        expected, got = (side.ids if isinstance(side, Render) else []), list(_call(ctx, g, fn))  # a Reason was rejected above
        if got != expected:
            note = benign_tail(ctx.tokenizer, expected, got, ctx.oracle_stop_ids) if what == "full conversation" else None
            if note:
                record_note(note)  # benign: noted, never a failure
                continue
            diff = token_diff(ctx.tokenizer, expected, got, what=what)
            raise AssertionError(f"{what} differs from the template\n{render_repro(ctx, case, call)}{diff}")


def _check_roundtrip(ctx: Any, example: dict[str, Any]) -> None:
    case = as_case(example)
    set_current_example(case.messages_list())
    g = _golden(ctx, case)
    c = g.completion
    if not isinstance(c, Completion) or c.expected is None:
        reject()  # no completion slice or no defined parse for this conversation
        return
    problems = parse_problems(ctx.renderer.parse_response(c.ids), c.expected)
    if problems:
        slice_ = ", ".join(f"{i} {p!r}" for i, p in c.tokens)
        raise AssertionError("\n".join(problems) + f"\n{render_repro(ctx, case, 'renderer.parse_response(completion_ids)')}"
                             f"    completion_ids (from the template's full render): {slice_}")


def chunked(ids: list[int], sizes: list[int]) -> list[list[int]]:
    """``ids`` cut into chunks of ``sizes``, repeated as often as needed."""
    out, at, k = [], 0, 0
    while at < len(ids):
        out.append(ids[at:at + sizes[k % len(sizes)]])
        at += sizes[k % len(sizes)]
        k += 1
    return out


def _check_stream(ctx: Any, example: dict[str, Any], sizes: list[int]) -> None:
    case = as_case(example)
    set_current_example(case.messages_list())
    c = _golden(ctx, case).completion
    if not isinstance(c, Completion):
        reject()  # no completion slice for this conversation
        return
    r = ctx.renderer
    for cut in (c.ids, c.ids[:-1]):  # as sampled, and cut before its stop id
        problems = stream_problems(stream(r, cut, chunked(cut, sizes)), r.parse_response(cut), ctx.tokenizer)
        if problems:
            call = (f"renderer.parse_response_streaming(chunked(completion_ids{'[:-1]' if cut is not c.ids else ''}, {sizes}))"
                    "  # from conformance.suite.test_generated import chunked")
            raise AssertionError("\n".join(problems) + f"\n{render_repro(ctx, case, call)}"
                                 f"    completion_ids (from the template's full render): {c.ids}")


def test_generated_conversations_match_template(conformance_ctx, shape):
    @settings(_profile())
    @given(conversations(shape))
    def run(example: dict[str, Any]) -> None:
        _check_parity(conformance_ctx, example)

    run()


def test_generated_completions_parse_back(conformance_ctx, shape):
    if not conformance_ctx.renderer.capabilities.parse:
        from conformance.suite.areas import CAPABILITY_SKIP

        pytest.skip(f"{CAPABILITY_SKIP} parse")

    @settings(_profile())
    @given(conversations(shape))
    def run(example: dict[str, Any]) -> None:
        _check_roundtrip(conformance_ctx, example)

    run()


def test_generated_completions_stream_in_any_chunks(conformance_ctx, shape):
    """Streaming, at hypothesis-chosen split points (the streaming area streams the goldens one id
    at a time and all at once)."""
    if not conformance_ctx.renderer.capabilities.streaming:
        from conformance.suite.areas import CAPABILITY_SKIP

        pytest.skip(f"{CAPABILITY_SKIP} streaming")

    @settings(_profile())
    @given(conversations(shape), st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=6))
    def run(example: dict[str, Any], sizes: list[int]) -> None:
        _check_stream(conformance_ctx, example, sizes)

    run()
