"""Hand-written Llama 3.1 renderer.

Written from the behaviour of the Llama-3.1-8B-Instruct template (snapshot
``meta-llama__Llama-3.1-8B-Instruct``), variants ``default`` (tools declared in the first user
message) and ``tools_in_system``; the date line reads the variant's pinned ``date_string``.

* ``<|begin_of_text|>``, a system block with ``Environment: ipython`` when tools are declared, the
  knowledge and today dates, (``tools_in_system``) the tool instructions and each tool as
  ``tojson(indent=4)``, then the first system message, trimmed;
* ``default`` with tools: the first non-system message (whatever its role) is trimmed and folded
  into a user block after the tool instructions;
* other messages: a header with their role and their trimmed content, then ``<|eot_id|>``; an
  assistant tool call (exactly one per message: the template refuses more) is
  ``{"name": ..., "parameters": <arguments tojson>}`` and its text content is dropped; tool results
  (role ``tool``, or ``ipython`` as the template also accepts) go under an ``ipython`` header as a
  JSON string (the template's ``is iterable`` test is true for strings).

Variant ``builtin_tools`` (the template's ipython mode): the system block lists the built-in tools,
a call to one of them is ``<|python_tag|>name.call(k="v", ...)``, and every tool call ends with
``<|eom_id|>`` (the model waits for the result) instead of ``<|eot_id|>``; both are stop ids.

Extension property: **yes**: history renders the same once more messages follow (verified over
every multi-turn case). Bridge: the new messages are rendered after the sampled tokens, closing a
truncated turn with ``<|eot_id|>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.messages import ROLES, tool_arguments_value, validate_messages
from reference_renderers.base import PieceRenderer, Pieces
from reference_renderers.parsers import parse_llama3

__all__ = ["Llama3Renderer"]

# The template also takes tool results under their own header's name.
_ROLES = (*ROLES, "ipython")

_INSTRUCTIONS = (
    'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.'
    "Do not use variables.\n\n"
)


def _header(role: str) -> str:
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n"


class Llama3Renderer(PieceRenderer):
    family = "llama3"
    parser = staticmethod(parse_llama3)
    default_model = "meta-llama/Llama-3.1-8B-Instruct"
    has_extension_property = True
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)
        kwargs = self.template_kwargs
        self._date = kwargs.get("date_string", "26 Jul 2024")
        self._tools_in_user = kwargs.get("tools_in_user_message", True)
        self._builtin = kwargs.get("builtin_tools")  # None: the template's "builtin_tools is not defined"

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        if messages:
            validate_messages(messages, roles=_ROLES)
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        msgs = list(messages)
        system = ""
        if msgs and msgs[0]["role"] == "system":
            system = msgs.pop(0)["content"].strip()
        s("<|begin_of_text|>" + _header("system"))
        if tools is not None or self._builtin is not None:
            s("Environment: ipython\n")
        if self._builtin is not None:
            s("Tools: " + ", ".join(t for t in self._builtin if t != "code_interpreter") + "\n\n")
        s(f"Cutting Knowledge Date: December 2023\nToday Date: {self._date}\n\n")
        if tools is not None and not self._tools_in_user:
            s("You have access to the following functions. To call a function, please respond with JSON for a function call.")
            s(_INSTRUCTIONS)
            self._tool_list(out, tools)
        c(system)
        s("<|eot_id|>")
        if tools is not None and self._tools_in_user:
            if not msgs:
                raise InvalidMessagesError("Llama 3.1 declares tools in the first user message, and there is none")
            first = msgs.pop(0)
            out.append(("m", "", len(messages) - len(msgs) - 1))
            s(_header("user"))
            s("Given the following functions, please respond with a JSON for a function call ")
            s("with its proper arguments that best answers the given prompt.\n\n")
            s(_INSTRUCTIONS)
            self._tool_list(out, tools)
            c(self._text(first).strip())
            s("<|eot_id|>")
        offset = len(messages) - len(msgs)
        self._messages(out, msgs, offset)
        if agp:
            out.append(("m", "", -1))
            s(_header("assistant"))
        return out

    @staticmethod
    def _text(m: dict[str, Any]) -> str:
        return m["content"] if isinstance(m.get("content"), str) else ""

    @staticmethod
    def _tool_list(out: Pieces, tools: Any) -> None:
        for t in tools:
            out.append(("c", json.dumps(t, ensure_ascii=False, indent=4)))
            out.append(("s", "\n\n"))

    def _messages(self, out: Pieces, msgs: Sequence[dict[str, Any]], offset: int) -> None:
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        for k, m in enumerate(msgs):
            i = offset + k
            out.append(("m", "", i))
            if m["role"] in ("tool", "ipython"):
                s(_header("ipython"))
                c(json.dumps(self._text(m), ensure_ascii=False))
                s("<|eot_id|>")
            elif "tool_calls" in m:
                calls = m["tool_calls"] or []
                if len(calls) != 1:
                    raise InvalidMessagesError(
                        f"message {i} (assistant): Llama 3.1 supports exactly one tool call per message, got {len(calls)}"
                    )
                fn = calls[0]["function"]
                args = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[0]")
                s(_header("assistant"))
                if self._builtin is not None and fn["name"] in self._builtin:
                    bad = [k for k, v in args.items() if not isinstance(v, str)]
                    if bad:
                        raise InvalidMessagesError(f"message {i} tool_calls[0]: built-in tool arguments must be strings ({', '.join(bad)})")
                    s("<|python_tag|>")
                    s(fn["name"] + ".call(" + ", ".join(f'{k}="{v}"' for k, v in args.items()) + ")")
                else:
                    s('{"name": "')
                    s(fn["name"])
                    s('", "parameters": ')
                    s(json.dumps(args, ensure_ascii=False))
                    s("}")
                # With built-in tools the model is in ipython mode: a call waits for its result.
                s("<|eom_id|>" if self._builtin is not None else "<|eot_id|>")
            else:
                s(_header(m["role"]))
                # Assistant text is written as the template writes it: spelled tokens are tokens.
                (s if m["role"] == "assistant" else c)(self._text(m).strip())
                s("<|eot_id|>")

    def bridge_to_next_turn(
        self, prev_prompt: Sequence[int], prev_completion: Sequence[int], new_messages: Sequence[dict[str, Any]], *, tools: Any = None
    ) -> list[int] | None:
        # A truncated turn is closed as the template would: a call in ipython mode with eom. (The
        # completion is decoded only when it is truncated; a finished one keeps its own stop id.)
        closing = self._stop_ids[0]
        if not prev_completion or prev_completion[-1] not in self._stop_ids:
            text = self.tokenizer.decode(list(prev_completion), skip_special_tokens=False).lstrip()
            is_call = text.startswith(("<|python_tag|>", '{"name": "'))
            closing = self._enc.id("<|eom_id|>" if is_call and self._builtin is not None else "<|eot_id|>")
        ids = self._bridge_history(prev_prompt, prev_completion, new_messages, closing_id=closing, roles=_ROLES)
        if ids is None:
            return None
        out: Pieces = []
        self._messages(out, new_messages, 0)
        out.append(("m", "", -1))
        out.append(("s", _header("assistant")))
        return ids + self._enc.encode(out)
