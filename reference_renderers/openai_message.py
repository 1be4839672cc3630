"""A completion as the OpenAI chat message a client receives and sends back (``to_openai_message``).

Tool-call arguments travel as JSON text (the OpenAI format): the text the completion wrote where
the template writes arguments verbatim (Qwen3, Kimi: ``1e-7`` stays ``1e-7``, a key order stays),
else the parsed value serialized (the template parses and serializes it again); call ids the
template writes (Mistral, Kimi) are the completion's own. What must travel as written is declared
next to each family's parser (:func:`reference_renderers.parsers.sends_raw`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.protocol import ParsedResponse
from reference_renderers.parsers import completion_text

__all__ = ["openai_message", "to_openai"]


def openai_message(parsed: ParsedResponse, raw: list[dict[str, Any]] | None) -> dict[str, Any]:
    """``parsed`` as an OpenAI assistant message; ``raw``: per call, what the completion wrote
    (``arguments`` text, ``id``), used where it is there for every call."""
    msg: dict[str, Any] = {"role": "assistant", "content": parsed.content}
    if parsed.reasoning_content:
        msg["reasoning_content"] = parsed.reasoning_content
    if parsed.tool_calls:
        written = raw if raw is not None and len(raw) == len(parsed.tool_calls) else [{} for _ in parsed.tool_calls]
        msg["tool_calls"] = [
            {"id": w.get("id", f"call_{i}"), "type": "function",
             "function": {"name": call["name"],
                          "arguments": w.get("arguments", json.dumps(call["arguments"], ensure_ascii=False))}}
            for i, (call, w) in enumerate(zip(parsed.tool_calls, written))
        ]
    return msg


def to_openai(parser: Any, tokenizer: Any, ids: Sequence[int], stop_ids: Sequence[int], parsed: ParsedResponse) -> dict[str, Any]:
    """A renderer's ``to_openai_message``: ``parsed`` (its parse of ``ids``) with what ``parser``
    declares must travel as the completion wrote it."""
    extract = getattr(parser, "raw_calls", None)
    raw = None
    if extract is not None and parsed.tool_calls:  # tool calls were parsed: the ids decode
        raw = extract(completion_text(tokenizer, ids, stop_ids)[0])
    return openai_message(parsed, raw)
