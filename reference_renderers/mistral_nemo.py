"""Hand-written Mistral-Nemo renderer ([INST] format with [TOOL_CALLS] / [TOOL_RESULTS]).

Written from the behaviour of the Mistral-Nemo-Instruct-2407 template (snapshot
``mistralai__Mistral-Nemo-Instruct-2407``):

* ``<s>``, then the messages; after an optional first system message, user and assistant messages
  must alternate starting with user (tool calls and tool results are not counted); any other
  order, or a system message elsewhere, is refused as the template refuses it;
* the system prompt is not a block of its own: it is written into the *last* message, ``[INST]``
  system ``\\n\\n`` content ``[/INST]``, and only when the conversation ends with that user message;
* with tools, ``[AVAILABLE_TOOLS]`` precedes the last user message; string fields of a tool are
  written raw between quotes, others with ``tojson``;
* an assistant answer is its content then ``</s>``; a tool-calling message is ``[TOOL_CALLS]`` and
  each call's ``tojson`` with its 9-character id, then ``</s>`` (its text content is dropped); a
  tool result is ``[TOOL_RESULTS]{"content": <raw text>, "call_id": "<id>"}[/TOOL_RESULTS]``;
* there is no generation prompt: the prompt for the next assistant message is the render itself.

Extension property: **no**: the system prompt (and the tool list) moves to the newest user
message. Bridge: new user and tool messages are written after the sampled tokens as the template
writes them (tools before a new user message); a truncated turn is closed with ``</s>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.messages import tool_arguments_value, validate_messages
from reference_renderers.base import PieceRenderer, Pieces
from reference_renderers.parsers import parse_mistral

__all__ = ["MistralNemoRenderer"]


def _is_call(m: dict[str, Any]) -> bool:
    return m.get("tool_calls") is not None


class MistralNemoRenderer(PieceRenderer):
    family = "mistral-nemo"
    parser = staticmethod(parse_mistral)
    default_model = "mistralai/Mistral-Nemo-Instruct-2407"
    has_extension_property = False
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        if messages:
            validate_messages(messages)
        msgs = list(messages)
        system = msgs.pop(0)["content"] if msgs and msgs[0]["role"] == "system" else None
        offset = len(messages) - len(msgs)
        turn = 0
        for k, m in enumerate(msgs):
            if m["role"] == "tool" or _is_call(m):
                continue
            if (m["role"] == "user") != (turn % 2 == 0):
                raise InvalidMessagesError(
                    f"message {offset + k} ({m['role']}): after the optional system message, Mistral-Nemo needs "
                    "user and assistant messages to alternate, starting with user"
                )
            turn += 1
        out: Pieces = [("s", "<s>")]
        self._messages(out, msgs, tools, offset, system)
        return out

    def _messages(self, out: Pieces, msgs: Sequence[dict[str, Any]], tools: Any, offset: int, system: str | None) -> None:
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        users = [m for m in msgs if m["role"] == "user"]
        for k, m in enumerate(msgs):
            i = offset + k
            out.append(("m", "", i))
            role = m["role"]
            if role == "user":
                # The template compares whole messages: an earlier message equal to the last user
                # message gets the tool list too.
                if tools is not None and m == users[-1]:
                    self._tool_list(out, tools)
                s("[INST]")
                if k == len(msgs) - 1 and system is not None:
                    c(system)
                    s("\n\n")
                c(m["content"])
                s("[/INST]")
            elif _is_call(m):
                s("[TOOL_CALLS][")
                for j, call in enumerate(m["tool_calls"]):
                    call_id = call.get("id")
                    if not isinstance(call_id, str) or len(call_id) != 9:
                        raise InvalidMessagesError(
                            f"message {i} tool_calls[{j}]: Mistral-Nemo needs a 9-character call id, got {call_id!r}"
                        )
                    fn = call["function"]
                    args = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[{j}]")
                    s(json.dumps({"name": fn["name"], "arguments": args}, ensure_ascii=False)[:-1])
                    s(f', "id": "{call_id}"}}')
                    s(", " if j < len(m["tool_calls"]) - 1 else "]</s>")
            elif role == "assistant":
                s(m.get("content") or "")
                s("</s>")
            elif role == "tool":
                call_id = m.get("tool_call_id")
                if not isinstance(call_id, str) or len(call_id) != 9:
                    raise InvalidMessagesError(f"message {i} (tool): Mistral-Nemo needs a 9-character tool_call_id, got {call_id!r}")
                s('[TOOL_RESULTS]{"content": ')
                c(m["content"])
                s(f', "call_id": "{call_id}"}}[/TOOL_RESULTS]')
            else:
                raise InvalidMessagesError(
                    f"message {i} ({role}): Mistral-Nemo supports only user and assistant roles after an optional first system message"
                )

    @staticmethod
    def _tool_list(out: Pieces, tools: Any) -> None:
        out.append(("s", "[AVAILABLE_TOOLS]["))
        for n, tool in enumerate(tools):
            fn = tool["function"]
            out.append(("s", '{"type": "function", "function": {'))
            items = [(k, v) for k, v in fn.items() if k != "return"]
            for j, (key, val) in enumerate(items):
                # Strings are written raw between quotes (no escaping), the rest as tojson.
                text = f'"{key}": "{val}"' if isinstance(val, str) else f'"{key}": ' + json.dumps(val, ensure_ascii=False)
                out.append(("c", text))
                if j < len(items) - 1:
                    out.append(("s", ", "))
            out.append(("s", "}}"))
            out.append(("s", ", " if n < len(tools) - 1 else "]"))
        out.append(("s", "[/AVAILABLE_TOOLS]"))

    def bridge_to_next_turn(
        self, prev_prompt: Sequence[int], prev_completion: Sequence[int], new_messages: Sequence[dict[str, Any]], *, tools: Any = None
    ) -> list[int] | None:
        # A system prompt would have to move (it lives in the last user turn): not bridged.
        ids = self._bridge_history(prev_prompt, prev_completion, new_messages, closing_id=self._enc.id("</s>"),
                                   refused_roles=("assistant", "system"))
        if ids is None:
            return None
        out: Pieces = []
        self._messages(out, new_messages, tools, 0, None)
        return ids + self._enc.encode(out)
