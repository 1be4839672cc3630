"""Helpers the check modules share: case selection and failure messages that are reproductions.

The check modules are not assertion-rewritten (``PYTEST_DONT_REWRITE`` in each docstring), and
every ``assert`` there carries its message. A failure's evidence is the message built here (a
token diff at the first divergence, a reproduction); pytest's own introspection adds nothing to
it, and where ``CI`` is set pytest diffs the compared values in full (``difflib.ndiff`` over id and
weight lists of thousands of entries): measured on a renderer whose per-turn weights were wrong,
over 10 minutes for 200 failing tests that take 9 s without it. ``tests/test_plugin.py`` holds the
rule."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import pytest

from conformance.fixtures.cases import Case
from conformance.fixtures.golden_record import Derivable, Golden, Reason, Render
from conformance.oracle.message_spans import first_divergence
from conformance.suite.areas import CAPABILITY_SKIP, REFUSED
from conformance.suite.parts import part_at

__all__ = ["token_diff", "repro", "require", "skip_template_fact", "json_equal", "prompt_messages", "assert_ids_equal",
           "parse_problems", "call_or_refusal", "benign_tail", "judged_by_injection", "JUDGED_BY", "lossy_reason", "REFUSAL_ERRORS",
           "faithful_cases"]


def prompt_messages(case: Case) -> list[dict[str, Any]]:
    msgs = case.messages_list()
    last = case.last_assistant_index
    return msgs[:last] if last is not None else msgs


def require(ctx: Any, capability: str, why: str = "") -> None:
    if not getattr(ctx.renderer.capabilities, capability, False):
        pytest.skip(f"{CAPABILITY_SKIP} {capability}{(' (' + why + ')') if why else ''}")


def require_case_capabilities(ctx: Any, case: Case) -> None:
    caps = ctx.renderer.capabilities
    uses_tools = case.tools or any(m.get("tool_calls") or m.get("role") in ("tool", "ipython") for m in case.messages)
    if uses_tools and not caps.tools:
        pytest.skip(f"{CAPABILITY_SKIP} tools (the case declares or calls tools)")
    if any(m.get("reasoning_content") for m in case.messages) and not caps.thinking:
        pytest.skip(f"{CAPABILITY_SKIP} thinking (the case carries reasoning)")


def skip_template_fact(what: str, error: str) -> None:
    pytest.skip(f"template fact: {what}: {error}")


T = TypeVar("T")


def derived(part: Derivable[T] | None, what: str) -> T:
    """The golden's value for ``part``; where the template cannot give it (a :class:`Reason`, or a
    part this model's goldens do not have), the test is skipped as a template fact saying ``what``."""
    if isinstance(part, Reason):
        skip_template_fact(what, part.error)
    if part is None:
        skip_template_fact(what, "not part of this model's goldens")
    return part  # type: ignore[return-value]


def _piece(tok: Any, i: int | None) -> str:
    if i is None:
        return "(end)"
    try:
        return repr(tok.decode([i], skip_special_tokens=False))
    except Exception:  # noqa: BLE001
        return "(invalid id)"


def token_diff(tok: Any, expected: Sequence[int], got: Sequence[int], *, width: int = 8, what: str = "",
               part: dict[str, Any] | None = None) -> str:
    """Both id lists from the first divergence, decoded side by side. The same divergence is
    attached to the running test as data (:mod:`conformance.suite.evidence`) for the report pages,
    with ``part``, where in the conversation it lies, where the caller knows it."""
    from conformance.suite.evidence import record_divergence

    record = record_divergence(tok, expected, got, what=what, part=part)
    k = first_divergence(expected, got)
    lines = [f"first divergence at token {k} (expected {len(expected)} ids, got {len(got)})",
             f"{'pos':>6}  {'expected':<32} {'got':<32}"]
    for i in range(max(0, k - 2), k + width):
        e = expected[i] if i < len(expected) else None
        g = got[i] if i < len(got) else None
        if e is None and g is None:
            break
        mark = "!" if e != g else " "
        lines.append(f"{mark}{i:>5}  {str(e) + ' ' + _piece(tok, e):<32} {str(g) + ' ' + _piece(tok, g):<32}")
    if record and record.get("kind") == "encoder":
        lines.append("note: both id lists decode to the same text: the renderer writes what the template writes but splits it into "
                     "other tokens (BPE drift at a seam, or an encoder that is not the model's)")
    if record and record.get("kind") == "structure_as_text":
        lines.append("note: both id lists decode to the same text, but the renderer wrote the template's special tokens as text")
    if record and record.get("kind") == "injection":
        lines.append("note: both id lists decode to the same text, but the renderer turned text into special ids (role-boundary injection)")
    if record and record.get("unformable_ids"):
        odd = ", ".join(f"{i} {_piece(tok, i)}" for i in record["unformable_ids"])
        lines.append(f"note: the renderer emits vocabulary entries that no BPE merge of the oracle's tokenizer forms ({odd}): "
                     "its encoder differs from the model's tokenizer here, not its template")
    return "\n".join(lines)


def repro(ctx: Any, case: Case, call: str) -> str:
    return (
        f"case {case.id!r} ({case.description}) on {ctx.entry.model_id} [{ctx.variant.name}]\n"
        "reproduce:\n"
        f"    from conformance.fixtures.cases import load_cases\n"
        f"    case = next(c for c in load_cases() if c.id == {case.id!r})\n"
        f"    messages, tools = case.messages_list(), case.tools_list()\n"
        f"    renderer = ...  # {ctx.spec}\n"
        f"    {call}\n"
    )


#: Skip reasons of tests whose difference is judged by another area (one root cause, one area).
JUDGED_BY = "judged by"


def literal_positions_unknown(ctx: Any, golden: Golden) -> None:
    """Under ``--conformance-injection literal`` a look-alike case's ids are the template's literal
    ids, where the goldens' spans and attribution (positions in the content-as-text ids) do not
    apply: such a case's positions are not judged."""
    if ctx.injection == "literal" and isinstance(golden.full, Render) and golden.full.literal_ids is not None:
        pytest.skip("not judged under --conformance-injection literal: the goldens' token positions index the content-as-text ids")


def judged_by_injection(literal: Sequence[int] | None, got: Sequence[int]) -> None:
    """Skip when ``got`` is exactly what ``apply_chat_template(tokenize=True)`` gives (the
    template's literal ids, where content spelling special tokens became special ids): that
    difference from the goldens' safe ids is the content's special ids, judged once, by the
    injection area."""
    if literal is not None and list(got) == list(literal):
        pytest.skip(f"{JUDGED_BY} injection: the ids are the template's literal ids, where content text became special ids")


def benign_tail(tok: Any, expected: Sequence[int], got: Sequence[int], stop_ids: Sequence[int]) -> str | None:
    """Where ``got`` is ``expected`` without the template text after the final end-of-turn token
    (Qwen's ``\n`` after the last ``<|im_end|>``), what it drops; else None. Such a difference
    weighs 0 and conditions nothing a model samples: a benign finding, noted, never a failure
    (README: the standard's decisions)."""
    got, expected = list(got), list(expected)
    if not got or len(got) >= len(expected) or expected[: len(got)] != got or got[-1] not in set(stop_ids):
        return None
    rest = expected[len(got):]
    if any(i in set(stop_ids) for i in rest):
        return None
    special = frozenset(int(i) for i in tok.added_tokens_decoder)
    if any(i in special for i in rest):
        return None
    return f"drops {tok.decode(rest)!r} after the final {tok.decode([got[-1]], skip_special_tokens=False)!r}"


def assert_ids_equal(ctx: Any, case: Case, expected: Sequence[int], got: Sequence[int], what: str, call: str,
                     literal: Sequence[int] | None = None, benign_ok: bool = False) -> None:
    """Fail with a reproduction where ``got`` differs from ``expected``. With ``benign_ok`` (a full
    render or a supervised example), a difference after the final end-of-turn token only is
    noted as benign instead."""
    if list(expected) != list(got):
        if benign_ok:
            note = benign_tail(ctx.tokenizer, expected, got, ctx.oracle_stop_ids)
            if note:
                from conformance.suite.evidence import record_note

                record_note(note)
                return
        judged_by_injection(literal, got)
        part = part_at(ctx.golden(case), case.messages_list(), expected, first_divergence(expected, got))
        pytest.fail(f"{what} differs from the template\n{repro(ctx, case, call)}"
                    f"{token_diff(ctx.tokenizer, expected, got, what=what, part=part)}", pytrace=False)


def json_equal(a: Any, b: Any) -> bool:
    """JSON values equal with types kept apart: True is not 1, 1.0 is not 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return bool(a == b)


def dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False)


def _calls_equal(got: list[Any], expected: list[dict[str, Any]]) -> bool:
    """Tool calls equal as typed JSON; an expected name of None (dropped by the template) matches any;
    an argument the template writes exactly as it writes a string (the golden's
    ``string_spellings``: Qwen3.5's ``<parameter=enabled>\nFalse``) matches that string too."""
    if len(got) != len(expected):
        return False
    for g, e in zip(got, expected):
        if not isinstance(g, dict) or set(g) != {"name", "arguments"} or not _arguments_equal(g["arguments"], e):
            return False
        if e["name"] is not None and not json_equal(g["name"], e["name"]):
            return False
    return True


def _arguments_equal(got: Any, expected_call: Mapping[str, Any]) -> bool:
    want, spelled = expected_call["arguments"], expected_call.get("string_spellings") or {}
    if json_equal(got, want):
        return True
    if not spelled or not isinstance(got, dict) or not isinstance(want, dict) or set(got) != set(want):
        return False
    return all(json_equal(got[k], want[k]) or (k in spelled and json_equal(got[k], spelled[k])) for k in want)


def parse_problems(parsed: Any, expected: Mapping[str, Any]) -> list[str]:
    """How a parse of a clean completion differs from the expected message (empty: it does not)."""
    from conformance.protocol import Termination

    problems = []
    if parsed.termination != Termination.STOP_SEQUENCE:
        problems.append(f"termination {parsed.termination} for a completion that ends with its stop token")
    # Templates trim whitespace at the edges of content and reasoning; the parse is compared the same way.
    if (parsed.content or "").strip() != expected["content"].strip():
        problems.append(f"content {parsed.content!r} != {expected['content']!r}")
    if (parsed.reasoning_content or "").strip() != expected["reasoning_content"].strip():
        problems.append(f"reasoning {parsed.reasoning_content!r} != {expected['reasoning_content']!r}")
    if not _calls_equal(list(parsed.tool_calls), expected["tool_calls"]):
        problems.append(f"tool calls {dumps(list(parsed.tool_calls))} != {dumps(expected['tool_calls'])} (compared as typed JSON values"
                        "; a null name: the template drops it, any name is accepted; string_spellings: the template writes "
                        "that value as it writes the string, either is accepted)")
    return problems


#: What a renderer raises to refuse a conversation (our InvalidMessagesError is a ValueError).
REFUSAL_ERRORS = (ValueError, NotImplementedError)


def lossy_reason(golden: Golden) -> str | None:
    """Why the template cannot render this case faithfully (so a renderer may refuse it), or None.

    Faithfully means: it renders the generation prompt and the whole conversation without error,
    drops no field of any message, and the final turn's sampled tokens are derivable."""
    reasons = []
    if golden.dropped:
        fields = ", ".join(f"message {d.message} {d.field}" for d in golden.dropped)
        reasons.append(f"the template drops {fields}")
    why = golden.reasons()
    for side in ("prompt", "full"):
        err = why.get(side)
        if err and not err.startswith("case does not end with an assistant message"):
            reasons.append(f"the template cannot render the {'generation prompt' if side == 'prompt' else 'conversation'}: {err}")
    comp = why.get("completion")
    if comp and not reasons and not comp.startswith("case does not end with an assistant message"):
        reasons.append(f"no completion slice is derivable: {comp}")
    return "; ".join(reasons) or None


def faithful_cases(ctx: Any, n: int) -> list[Case]:
    """Up to ``n`` cases spread over the corpus that the template renders faithfully
    (:func:`lossy_reason`) and whose tools the renderer claims: material every renderer must
    handle, for the areas that check behaviour across calls (pickling, threads) rather than per case."""
    out = []
    for c in ctx.cases:
        g = ctx.golden(c)
        if lossy_reason(g) is None and "prompt" not in g.reasons() and (not c.tools or ctx.renderer.capabilities.tools):
            out.append(c)
    step = max(1, len(out) // n)
    return out[::step][:n]


def call_or_refusal(golden: Golden, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` (code under test). A refusal (:data:`REFUSAL_ERRORS`) of a case the template
    renders lossily (:func:`lossy_reason`) is allowed: the test ends as a refusal, counted and
    listed by the session. Any other exception, and a refusal of a case the template renders
    faithfully, fails the test with its traceback."""
    try:
        return fn(*args, **kwargs)
    except REFUSAL_ERRORS as e:
        why = lossy_reason(golden)
        if why is None:
            raise
        pytest.skip(f"{REFUSED} {type(e).__name__}: {str(e)[:160]} (allowed: {why})")


#: how many of a generation prompt's last tokens decide how a completion after it reads (an opened
#: ``<think>``, a prefilled harmony channel, an assistant header)
PROMPT_TAIL = 4


def golden_completion(ctx: Any, case: Case, capability: str) -> tuple[list[int], Any, str | None]:
    """The golden completion of ``case`` (ids, expected message or None, why none), for a check
    of ``capability``; skipped where the template has no completion slice, or where the
    renderer's own generation prompt ends differently (:func:`_prompt_tail_judged_by_parity`)."""
    require(ctx, capability)
    require_case_capabilities(ctx, case)
    g = ctx.golden(case)
    c = derived(g.completion, "no completion slice")
    _prompt_tail_judged_by_parity(ctx, case, g)
    return c.ids, c.expected, c.expected_error


def _prompt_tail_judged_by_parity(ctx: Any, case: Case, g: Golden) -> None:
    """One root cause, one area: the golden completion continues the template's generation prompt.
    Where the renderer's own prompt ends differently (Prime's gpt-oss prefills ``<|channel|>``),
    a completion after it starts differently too, so parsing the template's completion proves
    nothing; template_parity judges the prompt."""
    if isinstance(g.prompt, Reason):
        return
    want = ctx.expected_ids(g.prompt)
    try:
        got = ctx.renderer.build_generation_prompt(prompt_messages(case), tools=case.tools_list())
    except Exception:  # noqa: BLE001 - the prompt's own failure is template_parity's to report
        return
    if list(got[-PROMPT_TAIL:]) != want[-PROMPT_TAIL:]:
        tok = ctx.tokenizer
        pytest.skip(f"{JUDGED_BY} template_parity: the renderer's generation prompt ends {tok.decode(list(got[-PROMPT_TAIL:]))!r}, "
                    f"the template's {tok.decode(want[-PROMPT_TAIL:])!r}: the template's completion does not continue it")


def special_texts(tok: Any) -> list[str]:
    """The texts of the tokenizer's added tokens, special or not (``<tool_call>``, ``<think>``):
    the markup a stream must never show as text, longest first."""
    return sorted({t.content for t in tok.added_tokens_decoder.values() if len(t.content) > 1}, key=len, reverse=True)


def stream(renderer: Any, ids: Sequence[int], chunks: Sequence[Sequence[int]]) -> list[Any]:
    """The deltas of ``renderer`` streaming ``ids`` in ``chunks`` (checked to be ``ids``)."""
    assert [i for c in chunks for i in c] == list(ids)
    return list(renderer.parse_response_streaming(iter([list(c) for c in chunks])))


def stream_problems(deltas: Sequence[Any], one_shot: Any, tok: Any) -> list[str]:
    """How a stream's deltas differ from the one-shot parse of the same ids (empty: they do not).
    Each difference names the delta that showed it first, and markup of ``tok``'s
    (:func:`special_texts`) shown as text by name."""
    from conformance.protocol import ResponseDelta, assemble

    problems = []
    wrong = [i for i, d in enumerate(deltas) if not isinstance(d, ResponseDelta)]
    if wrong:
        return [f"delta {wrong[0]} is a {type(deltas[wrong[0]]).__name__}, not a ResponseDelta"]
    early = [i for i, d in enumerate(deltas[:-1]) if d.termination is not None]
    if early:
        problems.append(f"delta {early[0]} of {len(deltas)} carries a termination ({deltas[early[0]].termination}): only the last may")
    total = assemble(deltas)
    for field, what in (("reasoning_content", "reasoning"), ("content", "content")):
        # Whitespace at the edges is compared as the round trip compares parses (templates trim it).
        got, want = getattr(total, field), getattr(one_shot, field) or ""
        if got.strip() == want.strip():
            continue
        before, at = "", len(deltas) - 1  # the text shown before the first delta that departs from the one-shot parse
        for i, d in enumerate(deltas):
            if not want.strip().startswith((before + getattr(d, field)).strip()):
                at = i
                break
            before += getattr(d, field)
        text = getattr(deltas[at], field)
        marker = next((s for s in special_texts(tok) if s in text and s not in want), None)
        # The first line names the behaviour (the finding's signature); the next, this case's texts.
        problems.append((f"the stream shows special token {marker} as {what}" if marker else
                         f"the stream's {what} differs from the one-shot parse")
                        + f"\n    delta {at} shows {text!r} where the one-shot parse goes on {want[len(before):][:40]!r}"
                        f"; the deltas add up to {got!r}, the one-shot parse has {want!r}")
    if not _calls_equal(total.tool_calls, list(one_shot.tool_calls)):
        problems.append(f"the stream's tool calls differ from the one-shot parse\n    the deltas' {dumps(total.tool_calls)}, "
                        f"the one-shot parse's {dumps(list(one_shot.tool_calls))}")
    if total.termination != one_shot.termination:
        problems.append(f"the stream ends {total.termination}, the one-shot parse {one_shot.termination}")
    return problems
