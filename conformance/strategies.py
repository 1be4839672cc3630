"""Hypothesis strategies for OpenAI-style chat messages and whole conversations.

Public so that implementers can reuse them in their own property tests. Everything generated is
valid input by :func:`conformance.messages.validate_messages`: the strategies probe how a renderer
handles *legal but awkward* conversations (unicode of every script, whitespace and newlines at
message seams, empty strings, reasoning on any turn, tool calls with arbitrary JSON arguments),
not how it rejects bad input.

:func:`conversations` always ends with an assistant message, so every example has a completion
to parse. :class:`Shape` restricts what is generated to what a template can render at all (e.g.
Llama 3.1 refuses parallel tool calls); the suite derives it from the goldens.
"""

from __future__ import annotations

import functools
import json
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

__all__ = ["Shape", "text", "json_values", "tool_arguments", "conversations", "as_case", "register_profile",
           "restore_shrink_budget", "PROFILE", "TOOLS"]

PROFILE = "conformance"


_shrink_default: dict[str, float] = {}  # hypothesis's own shrink budget, while a certification changes it


def restore_shrink_budget() -> None:
    """Hypothesis's own shrink budget again: a certification bounds it for its session only, so a
    process that goes on (a test suite running certifications in-process, a user's own hypothesis
    tests in the same session) keeps hypothesis's behaviour."""
    if "seconds" in _shrink_default:
        from hypothesis.internal.conjecture import engine

        engine.MAX_SHRINKING_SECONDS = _shrink_default.pop("seconds")  # type: ignore[assignment]


def register_profile(max_examples: int = 25, *, shrink_seconds: float | None = None) -> None:
    """The ``conformance`` profile: derandomized (the same examples on every run, so CI is
    reproducible), no deadline, ``max_examples`` examples, failing examples printed with a blob.

    ``shrink_seconds`` bounds the time spent shrinking one failure. Hypothesis has no setting for
    it, only an engine constant (300 s); against a renderer that fails every example, each
    generated test would otherwise spend those 300 s, which a nightly run over dozens of
    renderers cannot afford. The shrunk example is then smaller than minimal, never wrong.
    """
    from hypothesis import HealthCheck, settings

    if shrink_seconds is not None:
        from hypothesis.internal.conjecture import engine

        if hasattr(engine, "MAX_SHRINKING_SECONDS"):
            _shrink_default.setdefault("seconds", engine.MAX_SHRINKING_SECONDS)
            engine.MAX_SHRINKING_SECONDS = shrink_seconds  # type: ignore[assignment]

    settings.register_profile(
        PROFILE,
        derandomize=True,
        max_examples=max_examples,
        deadline=None,
        print_blob=True,
        # No example database: derandomized runs find the same examples again anyway, a
        # certification must not write .hypothesis/ into the directory it is run from, and the
        # database's file writes during shrinking cost more than the shrinking itself (measured
        # here: 121 s instead of 7 s for a renderer that fails every example).
        database=None,
        # Templates refuse some generated conversations (discarded with reject()); a slow renderer
        # is the suite timeout's business, not hypothesis's.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )

#: Special-token spellings of the families we vendor; user text sometimes contains one.
LOOK_ALIKES = ("<|im_end|>", "<|im_start|>", "<think>", "</think>", "<tool_call>", "<|end|>", "<|start|>",
               "<|eot_id|>", "[INST]", "</s>", "<｜end▁of▁sentence｜>")

# Whitespace that templates treat specially at the edges of content (strip, trim, \n joins).
_SEAM = st.sampled_from(["", "", "", " ", "\n", "\n\n", "\t", " \n ", "\r\n"])
# Every Unicode category except surrogates, controls and private use (our oracle's sentinels
# live there). CJK, RTL, combining marks and emoji are all in.
_CHARS = st.characters(exclude_categories=("Cs", "Cc", "Co"), max_codepoint=0x1FAFF) | st.sampled_from("\n\t ")


@functools.cache
def _core(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    # Strategies are built once: hypothesis validates each new strategy object, which would
    # otherwise dominate the cost of every draw.
    return st.text(_CHARS, min_size=min_size, max_size=max_size)


@st.composite
def text(draw: Any, *, max_size: int = 30, look_alikes: bool = False, allow_empty: bool = True) -> str:
    """Unicode text with awkward whitespace at both ends; optionally a special-token spelling inside."""
    core = draw(_core(0 if allow_empty else 1, max_size))
    if look_alikes and draw(st.booleans()):
        at = draw(st.integers(0, len(core)))
        core = core[:at] + draw(st.sampled_from(LOOK_ALIKES)) + core[at:]
    out = draw(_SEAM) + core + draw(_SEAM)
    if not allow_empty and not out.strip():
        out = "x" + out
    return out


_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1.0, 1e-7, -0.5, 2.5e10, 0.1])
    | text(max_size=12)
)


_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3), max_leaves=8)
_ARGUMENTS = st.dictionaries(_KEYS, _JSON, max_size=4)


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value: null, booleans, integers, floats (1.0 stays a float), strings, lists, objects."""
    return _JSON


def tool_arguments() -> st.SearchStrategy[dict[str, Any]]:
    """A tool call's arguments: a JSON object with arbitrary values."""
    return _ARGUMENTS


#: The tools generated conversations declare (and call).
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": desc,
            "parameters": {"type": "object", "properties": {"value": {"type": "string", "description": "anything"}}},
        },
    }
    for name, desc in (("lookup", "Look something up."), ("run_step", "Run one step of a plan."), ("ping", "Check liveness."))
]


@dataclass(frozen=True)
class Shape:
    """What a conversation may contain. Defaults: everything."""

    system: bool = True
    reasoning: bool = True
    tools: bool = True
    parallel_calls: bool = True
    look_alikes: bool = True
    max_turns: int = 3


_ID_CHARS = string.ascii_letters + string.digits


@st.composite
def _call_id(draw: Any) -> str:
    # Nine alphanumerics: the strictest format in the field (Mistral's templates demand it).
    return draw(st.text(st.sampled_from(_ID_CHARS), min_size=9, max_size=9))


@st.composite
def _assistant(draw: Any, shape: Shape, *, calls: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    m: dict[str, Any] = {"role": "assistant"}
    if shape.reasoning and draw(st.booleans()):
        m["reasoning_content"] = draw(text(allow_empty=False))
    if not calls:
        m["content"] = draw(text())
        return m, []
    n = draw(st.integers(1, 2 if shape.parallel_calls else 1))
    m["content"] = draw(st.sampled_from(["", ""]) | text(max_size=12))
    m["tool_calls"] = []
    for _ in range(n):
        args = draw(tool_arguments())
        m["tool_calls"].append(
            {
                "id": draw(_call_id()),
                "type": "function",
                "function": {
                    "name": draw(st.sampled_from([t["function"]["name"] for t in TOOLS])),
                    # Both forms are legal input: a JSON string (OpenAI's wire format) or an object.
                    "arguments": draw(st.sampled_from([json.dumps(args), json.dumps(args, ensure_ascii=False)])),
                },
            }
        )
    responses = [
        {"role": "tool", "tool_call_id": c["id"], "content": draw(text(look_alikes=shape.look_alikes, allow_empty=False))}
        for c in m["tool_calls"]
    ]
    return m, responses


@st.composite
def conversations(draw: Any, shape: Shape = Shape()) -> dict[str, Any]:
    """``{"messages": [...], "tools": [...] | None}`` ending with an assistant message."""
    msgs: list[dict[str, Any]] = []
    if shape.system and draw(st.booleans()):
        msgs.append({"role": "system", "content": draw(text(allow_empty=False))})
    use_tools = shape.tools and draw(st.booleans())
    turns = draw(st.integers(1, shape.max_turns))
    for t in range(turns):
        msgs.append({"role": "user", "content": draw(text(look_alikes=shape.look_alikes, allow_empty=False))})
        # A turn is answered directly, after a tool loop (call, responses), or (last turn only)
        # ends on the call itself, so that tool calls are often the completion to parse.
        endings = ["answer", "loop"] + (["call"] if t == turns - 1 else [])
        ending = draw(st.sampled_from(endings)) if use_tools else "answer"
        if ending != "answer":
            call, responses = draw(_assistant(shape, calls=True))
            msgs.append(call)
            if ending == "call":
                break
            msgs.extend(responses)
        msgs.append(draw(_assistant(shape, calls=False))[0])
    return {"messages": msgs, "tools": TOOLS if use_tools else None}


def as_case(example: dict[str, Any]) -> Any:
    """A generated conversation as a :class:`conformance.fixtures.cases.Case` (id ``generated``, not builtin)."""
    from conformance.fixtures.cases import Case

    tools = example["tools"]
    return Case(
        id="generated",
        description="a conversation generated by hypothesis",
        messages=tuple(example["messages"]),
        tools=tuple(tools) if tools is not None else None,
        tags=("generated",),
        source="conformance.strategies",
        builtin=False,
    )
