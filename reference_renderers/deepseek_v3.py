"""Hand-written DeepSeek-V3 renderer.

Written from the behaviour of the DeepSeek-V3 template (snapshot ``deepseek-ai__DeepSeek-V3``):

* ``<｜begin▁of▁sentence｜>``, then *every* system message, wherever it stands, joined with a blank
  line, at the top;
* user turns are ``<｜User｜>`` + content; assistant turns ``<｜Assistant｜>`` + content +
  ``<｜end▁of▁sentence｜>`` (after tool outputs: ``<｜tool▁outputs▁end｜>`` + content + EOS);
* tool outputs: the first of the whole conversation opens ``<｜tool▁outputs▁begin｜>``, later ones
  are joined with a newline (the template never resets that flag); a conversation ending in tool
  outputs closes them and gets no generation prompt;
* reasoning is not rendered (the template has no field for it); tool declarations are ignored.

Tool *calls* are refused with a clear error: the template renders them only from ``content=None``
messages, and with the transformers release the goldens record it raises on those, so there is no
oracle to be byte-exact with (the goldens hold the error for every tool-call case).

Extension property: **no**: a system message added later is hoisted to the top, rewriting the
prefix (``basic-system-mid-conversation``). Bridge: new user and tool messages are appended after
the sampled tokens; a new system message cannot be (it belongs at the top), so that returns None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.messages import validate_messages
from reference_renderers.base import PieceRenderer, Pieces
from reference_renderers.parsers import parse_plain

__all__ = ["DeepSeekV3Renderer", "system_head"]

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
USER, ASSISTANT = "<｜User｜>", "<｜Assistant｜>"
OUTPUTS_BEGIN, OUTPUTS_END = "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>"
OUTPUT_BEGIN, OUTPUT_END = "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>"


def system_head(messages: Sequence[dict[str, Any]]) -> Pieces:
    """BOS, then every system message, wherever it stands, joined with a blank line (V3 and V3.1)."""
    out: Pieces = [("s", BOS)]
    for k, text in enumerate(m["content"] for m in messages if m["role"] == "system"):
        if k:
            out.append(("s", "\n\n"))
        out.append(("c", text))
    return out


class DeepSeekV3Renderer(PieceRenderer):
    family = "deepseek-v3"
    parser = staticmethod(parse_plain)
    default_model = "deepseek-ai/DeepSeek-V3"
    has_extension_property = False
    bridge = True

    def _pieces(
        self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool, *, outputs_seen: bool = False, head: bool = True
    ) -> Pieces:
        if messages:
            validate_messages(messages)
        for i, m in enumerate(messages):
            if m.get("tool_calls"):
                raise InvalidMessagesError(
                    f"message {i} (assistant): DeepSeek-V3's template cannot render tool calls with the recorded "
                    "transformers release (every tool-call golden is a template error); refused rather than guessed"
                )
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        if head:
            out += system_head(messages)
        in_tool = False
        for i, m in enumerate(messages):
            out.append(("m", "", i))
            role = m["role"]
            if role == "user":
                in_tool = False
                s(USER)
                c(m["content"])
            elif role == "assistant":
                s(OUTPUTS_END if in_tool else ASSISTANT)
                in_tool = False
                s(m.get("content") or "")
                s(EOS)
            elif role == "tool":
                in_tool = True
                s(f"{OUTPUTS_BEGIN}{OUTPUT_BEGIN}" if not outputs_seen else f"\n{OUTPUT_BEGIN}")
                outputs_seen = True
                c(m["content"])
                s(OUTPUT_END)
        if in_tool:
            s(OUTPUTS_END)
        elif agp:
            out.append(("m", "", -1))
            s(ASSISTANT)
        return out

    def bridge_to_next_turn(
        self, prev_prompt: Sequence[int], prev_completion: Sequence[int], new_messages: Sequence[dict[str, Any]], *, tools: Any = None
    ) -> list[int] | None:
        # System messages belong at the top: not bridged.
        ids = self._bridge_history(prev_prompt, prev_completion, new_messages, closing_id=self._enc.id(EOS),
                                   refused_roles=("assistant", "system"))
        if ids is None:
            return None
        # Whether a tool output was already rendered decides how the next one opens; the history's
        # ids tell, without re-rendering it.
        seen = self._enc.id(OUTPUT_BEGIN) in ids
        return ids + self._enc.encode(self._pieces(new_messages, None, True, outputs_seen=seen, head=False))
