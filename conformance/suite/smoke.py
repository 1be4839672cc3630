"""A smoke check before the suite: one call of each method on the simplest conversation.

A renderer that returns the wrong type, or raises on ``[user "Hi", assistant "Hello"]``, would
otherwise fail every one of a thousand tests with the same traceback. This check turns that into
one start-up error (pytest exit code 4) naming the method, what it returned or raised, and the
frames of the renderer's own code (not the suite's).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import Any

from conformance.fixtures.golden_record import Completion

__all__ = ["smoke_check", "user_frames"]

_SIMPLE = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # conformance/
_NOT_USER = (_HERE, os.path.dirname(traceback.__file__), f"{os.sep}_pytest{os.sep}", f"{os.sep}pluggy{os.sep}")


def user_frames(e: BaseException, limit: int = 6) -> str:
    """The traceback of ``e`` without the suite's, pytest's and the standard library's frames."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if not os.path.abspath(f.filename).startswith(_NOT_USER)]
    return "".join(traceback.format_list(frames[-limit:])).rstrip()


def _ints(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in value)


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'...' if len(text) > 80 else ''}"


def smoke_check(ctx: Any) -> str | None:
    """None if every claimed method answers the simplest conversation with the right type; else
    the one problem to report."""
    r, raw = ctx.renderer, ctx.raw
    caps = r.capabilities
    golden = ctx.golden(next(c for c in ctx.cases if c.id == "basic-single-turn"))
    completion = golden.completion.ids if isinstance(golden.completion, Completion) else []
    checks: list[tuple[str, Callable[[], Any], Callable[[Any], str | None]]] = [
        ("build_generation_prompt(messages[:1])", lambda: r.build_generation_prompt(_SIMPLE[:1]),
         lambda v: None if _ints(v) and v else "expected a non-empty list of int token ids"),
        ("stop_token_ids()", r.stop_token_ids, lambda v: None if _ints(v) and v else "expected a non-empty list of int token ids"),
    ]
    if caps.full_render:
        checks.insert(0, ("render(messages)", lambda: r.render(_SIMPLE),
                          lambda v: None if _ints(getattr(v, "ids", None)) else "expected RenderedTokens(ids=[int, ...])"))
    if caps.supervised and caps.train_on:
        checks.append((f"build_supervised_example(messages, train_on={caps.train_on[0]!r})",
                       lambda: r.build_supervised_example(_SIMPLE, train_on=caps.train_on[0]),
                       lambda v: None if _ints(getattr(v, "ids", None)) and len(getattr(v, "weights", ())) == len(v.ids)
                       else "expected SupervisedExample(ids=[int, ...], weights=[float, ...] of the same length)"))
    if caps.parse and completion:
        checks.append(("parse_response(completion_ids)", lambda: r.parse_response(completion),
                       lambda v: None if all(hasattr(v, a) for a in ("content", "tool_calls", "termination"))
                       else "expected ParsedResponse(content=, reasoning_content=, tool_calls=, termination=)"))
    if caps.streaming and completion:
        checks.append(("parse_response_streaming([completion_ids])", lambda: list(r.parse_response_streaming(iter([completion]))),
                       lambda v: None if v and all(hasattr(d, "content") and hasattr(d, "termination") for d in v)
                       else "expected ResponseDelta(content=, reasoning_content=, tool_call=, termination=) items, at least one"))
    if caps.openai_message and completion:
        checks.append(("to_openai_message(completion_ids)", lambda: r.to_openai_message(completion),
                       lambda v: None if isinstance(v, dict) and v.get("role") == "assistant"
                       else "expected an OpenAI message: a dict with role 'assistant'"))
    for call, fn, judge in checks:
        try:
            value = fn()
        except Exception as e:  # noqa: BLE001 - exactly what this check reports, once
            frames = user_frames(e)
            where = f"\n{frames}" if frames else ""
            return (f"{ctx.spec} [{ctx.variant.name}]: {call} raised {type(e).__name__}: {e}"
                    f" on the simplest conversation {_SIMPLE[:1] if 'prompt' in call else _SIMPLE}{where}")
        problem = judge(value)
        if problem:
            native = getattr(raw, call.split("(")[0], None)
            shown = _show(value)
            if callable(native) and type(raw).__name__ not in type(r).__name__:
                shown = f"{shown} (through the {getattr(r, 'style', '?')} adapter)"
            return f"{ctx.spec} [{ctx.variant.name}]: {call} returned {shown}: {problem}"
    return None
