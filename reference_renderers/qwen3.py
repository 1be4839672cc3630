"""Hand-written Qwen3 renderer (ChatML with <think> and <tool_call> blocks).

Written from the behaviour of the Qwen3-8B template (snapshot ``Qwen__Qwen3-8B``), not by calling
it. Variants: ``thinking`` (default) and ``no_thinking`` (``enable_thinking=False``).

Template rules reproduced here:
* tools go into the first system block, one ``tojson`` line per tool;
* the *last query* is the last user message that is not a wrapped tool response; assistant turns
  after it keep ``<think>`` blocks (the last one always, even empty), turns before it lose them;
* consecutive tool results share one ``<|im_start|>user`` block;
* tool-call arguments given as JSON text are written verbatim (``1e-7`` stays ``1e-7``); given as
  an object they are serialized with ``json.dumps(ensure_ascii=False)`` (the template's ``tojson``).

Extension property: **no** for both variants: reasoning of earlier turns is dropped once a new
user query arrives, and the empty ``<think>`` block of the last turn disappears from history.
The bridge therefore keeps the sampled tokens as they are and appends only the new messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.messages import tool_arguments_value, validate_messages
from reference_renderers.base import PieceRenderer, Pieces
from reference_renderers.parsers import parse_qwen3

__all__ = ["Qwen3Renderer"]

_TOOLS_INTRO = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_TOOLS_OUTRO = (
    '\n</tools>\n\nFor each function call, return a json object with function name and arguments within '
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call><|im_end|>\n"
)


def _dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False)


class Qwen3Renderer(PieceRenderer):
    family = "qwen3"
    parser = staticmethod(parse_qwen3)
    default_model = "Qwen/Qwen3-8B"
    has_extension_property = False
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)
        self._im_end = self._enc.id("<|im_end|>")

    # ---- rendering ------------------------------------------------------------------------
    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        if messages:
            validate_messages(messages)
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        n = len(messages)
        first_is_system = n > 0 and messages[0]["role"] == "system"
        if tools:
            s("<|im_start|>system\n")
            if first_is_system:
                c(messages[0]["content"])
                s("\n\n")
            s(_TOOLS_INTRO)
            for tool in tools:
                s("\n")
                c(_dumps(tool))
            s(_TOOLS_OUTRO)
        elif first_is_system:
            s("<|im_start|>system\n")
            c(messages[0]["content"])
            s("<|im_end|>\n")
        last_query = n - 1
        for i in range(n - 1, -1, -1):
            m = messages[i]
            content = m.get("content")
            if m["role"] == "user" and isinstance(content, str) and not (
                content.startswith("<tool_response>") and content.endswith("</tool_response>")
            ):
                last_query = i
                break
        for i, m in enumerate(messages):
            out.append(("m", "", i))
            role = m["role"]
            content = m["content"] if isinstance(m.get("content"), str) else ""
            if role == "user" or (role == "system" and i > 0):
                s(f"<|im_start|>{role}\n")
                c(content)
                s("<|im_end|>\n")
            elif role == "assistant":
                self._assistant(out, m, content, i, last_query, is_last=i == n - 1)
            elif role == "tool":
                if i == 0 or messages[i - 1]["role"] != "tool":
                    s("<|im_start|>user")
                s("\n<tool_response>\n")
                c(content)
                s("\n</tool_response>")
                if i == n - 1 or messages[i + 1]["role"] != "tool":
                    s("<|im_end|>\n")
        if agp:
            out.append(("m", "", -1))
            s("<|im_start|>assistant\n")
            if self.variant == "no_thinking":
                s("<think>\n\n</think>\n\n")
        return out

    def _assistant(self, out: Pieces, m: dict[str, Any], content: str, i: int, last_query: int, *, is_last: bool) -> None:
        # Assistant text goes in as structure: the template's render (and the sampler) has any
        # spelled token as the token itself.
        s = lambda t: out.append(("s", t))  # noqa: E731
        rc = m.get("reasoning_content")
        reasoning = rc if isinstance(rc, str) else ""
        if not isinstance(rc, str) and "</think>" in content:
            # The template parses a <think> block out of assistant content; so do we.
            reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
            content = content.split("</think>")[-1].lstrip("\n")
        if i > last_query and (is_last or reasoning):
            s("<|im_start|>assistant\n<think>\n")
            s(reasoning.strip("\n"))
            s("\n</think>\n\n")
            s(content.lstrip("\n"))
        else:
            s("<|im_start|>assistant\n")
            s(content)
        for j, call in enumerate(m.get("tool_calls") or []):
            if j > 0 or content:
                s("\n")
            fn = call.get("function", call)
            args_text = self._arguments_text(fn["arguments"], where=f"message {i} tool_calls[{j}]")
            s('<tool_call>\n{"name": "')
            s(fn["name"])
            s('", "arguments": ')
            s(args_text)
            s("}\n</tool_call>")
        s("<|im_end|>\n")

    def _arguments_text(self, raw: Any, *, where: str) -> str:
        """Tool-call arguments as the template writes them (registry ``tool_arguments =
        "as_written"``): a JSON text verbatim (its ``is string`` branch), an object through
        ``tojson``. Either must be a JSON object."""
        value = tool_arguments_value(raw, where=where)
        return raw if isinstance(raw, str) else self._serialize_arguments(value)

    def _serialize_arguments(self, value: dict[str, Any]) -> str:
        """An arguments object as the template's ``tojson`` writes it."""
        return _dumps(value)

    def bridge_to_next_turn(self, prev_prompt: Sequence[int], prev_completion: Sequence[int],
                            new_messages: Sequence[dict[str, Any]], *, tools: Any = None) -> list[int] | None:
        ids = self._bridge_history(prev_prompt, prev_completion, new_messages, closing_id=self._im_end)
        if ids is None:
            return None
        # Render the new messages as they follow an assistant turn, behind a placeholder user
        # message; what comes before the new messages' first marker (the placeholder, and any
        # block a family writes at the top) is cut. A leading system message here is never
        # "first", so it renders as a plain block (or is refused where the template refuses it).
        body = self._pieces([{"role": "user", "content": ""}, *new_messages], None, True)
        start = next(k for k, p in enumerate(body) if p[0] == "m" and p[2] == 1)
        return ids + self._enc.encode([("s", "\n"), *body[start:]])

