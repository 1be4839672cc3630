"""Hand-written Kimi renderer: K2-Thinking, K2.5 and K2.6 (one class; the three templates differ in
data: a default system prompt, how tools are declared, the thinking switches).

Written from the behaviour of the templates in ``moonshotai__Kimi-K2-Thinking``,
``moonshotai__Kimi-K2.5`` and ``moonshotai__Kimi-K2.6``, not by calling them:

* roles are ``<|im_user|>``, ``<|im_assistant|>`` and ``<|im_system|>`` (system, tool and any
  other role) followed by the message's ``name`` or role and ``<|im_middle|>``; every message
  ends with ``<|im_end|>``; nothing sits between messages;
* declared tools come first as a ``tool_declare`` system message: K2.5/K2.6 write upstream's
  TypeScript namespace (``tools_ts_str``, :mod:`conformance.tool_declarations`), K2-Thinking
  (and K2.5/K2.6 where that encoding fails) compact JSON; every model's upstream tokenizer code
  sorts every dict's keys of the tools first;
* K2-Thinking alone adds ``You are Kimi, an AI assistant created by Moonshot AI.`` as a system
  message when the conversation does not start with one;
* *history* is every message up to the last assistant message without tool calls; assistant turns
  there are ``<think></think>`` + content (reasoning dropped), later ones ``<think>reasoning</think>``
  + content; ``thinking=false`` (K2.5/K2.6) empties every ``<think>`` and ``preserve_thinking``
  (K2.6) makes the history empty;
* tool calls: ``<|tool_calls_section_begin|>`` then per call ``<|tool_call_begin|>{id}
  <|tool_call_argument_begin|>{arguments as tojson}<|tool_call_end|>``; tool results are
  ``## Return of {tool_call_id}\\n{content}``. The function *name* is not rendered: only the call
  id carries it (upstream writes ids as ``functions.<name>:<n>``);
* the generation prompt is ``<|im_assistant|>assistant<|im_middle|>``, then ``<think>`` (K2.5/K2.6)
  or ``<think></think>`` (``thinking=false``).

Extension property: **yes** for ``no_thinking`` and ``preserve_thinking`` (no turn is rewritten
and every message boundary is a special token); **no** otherwise (a finished turn's reasoning is
dropped from history). The bridge keeps the sampled tokens and appends only the new messages,
whose rendering does not depend on their position.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.messages import tool_arguments_value, validate_messages
from conformance.tool_declarations import deep_sorted, tools_ts_str
from reference_renderers.base import PieceRenderer, Pieces
from reference_renderers.parsers import parse_kimi

__all__ = ["KimiRenderer"]

_DEFAULT_SYSTEM = "You are Kimi, an AI assistant created by Moonshot AI."
#: per model: (writes the default system prompt, declares tools as TypeScript, opens <think> in the prompt)
_MODELS = {
    "moonshotai/Kimi-K2-Thinking": (True, False, False),
    "moonshotai/Kimi-K2.5": (False, True, True),
    "moonshotai/Kimi-K2.6": (False, True, True),
}


class KimiRenderer(PieceRenderer):
    family = "kimi-k2"
    parser = staticmethod(parse_kimi)
    default_model = "moonshotai/Kimi-K2.6"
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)
        if model_id not in _MODELS:
            raise ValueError(f"KimiRenderer knows {', '.join(_MODELS)}, not {model_id}")
        self._default_system, self._typescript_tools, self._opens_think = _MODELS[model_id]
        self._thinking_off = self.template_kwargs.get("thinking") is False
        self._preserve = bool(self.template_kwargs.get("preserve_thinking"))
        self.has_extension_property = self._thinking_off or self._preserve
        self._im_end = self._enc.id("<|im_end|>")

    def _history_end(self, messages: Sequence[dict[str, Any]]) -> int:
        """Index of the last message rendered as history (-1: none)."""
        if self._preserve:
            return -1
        return max((i for i, m in enumerate(messages) if m["role"] == "assistant" and not m.get("tool_calls")), default=-1)

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        if messages:
            validate_messages(messages)
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        if tools:
            s("<|im_system|>tool_declare<|im_middle|>")
            ts = tools_ts_str(tools) if self._typescript_tools else None
            c(ts if ts is not None else json.dumps(deep_sorted(list(tools)), ensure_ascii=False, separators=(",", ":")))
            s("<|im_end|>")
        if self._default_system and (not messages or messages[0]["role"] != "system"):
            s(f"<|im_system|>system<|im_middle|>{_DEFAULT_SYSTEM}<|im_end|>")
        history_end = self._history_end(messages)
        for i, m in enumerate(messages):
            out.append(("m", "", i))
            role = m["role"]
            opener = {"user": "<|im_user|>", "assistant": "<|im_assistant|>"}.get(role, "<|im_system|>")
            s(opener)
            c(m.get("name") or role)
            s("<|im_middle|>")
            content = m.get("content")
            if role == "assistant":
                self._assistant(out, m, i, in_history=i <= history_end)
            elif role == "tool":
                s("## Return of ")
                c(m.get("tool_call_id") or "")
                s("\n")
                c(content or "")
            elif content is not None:
                c(content)
            s("<|im_end|>")
        if agp:
            out.append(("m", "", -1))
            s("<|im_assistant|>assistant<|im_middle|>")
            if self._thinking_off:
                s("<think></think>")
            elif self._opens_think:
                s("<think>")
        return out

    def _assistant(self, out: Pieces, m: dict[str, Any], i: int, *, in_history: bool) -> None:
        # Assistant text is structure: the template's render (and the sampler) has a spelled token
        # as the token itself.
        s = lambda t: out.append(("s", t))  # noqa: E731
        content = m.get("content") or ""
        if in_history or (self._thinking_off and not self._preserve):
            s("<think></think>")
        else:
            s("<think>")
            s(m.get("reasoning_content") or "")
            s("</think>")
        s(content)
        calls = m.get("tool_calls") or []
        if calls:
            s("<|tool_calls_section_begin|>")
            for j, call in enumerate(calls):
                fn = call.get("function", call)
                args = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[{j}]")
                s("<|tool_call_begin|>")
                s(str(call.get("id") or ""))
                s("<|tool_call_argument_begin|>")
                # As written (registry tool_arguments = "as_written"): a JSON text verbatim, an
                # object through the template's tojson.
                s(fn["arguments"] if isinstance(fn["arguments"], str) else json.dumps(args, ensure_ascii=False))
                s("<|tool_call_end|>")
            s("<|tool_calls_section_end|>")

    def bridge_to_next_turn(self, prev_prompt: Sequence[int], prev_completion: Sequence[int],
                            new_messages: Sequence[dict[str, Any]], *, tools: Any = None) -> list[int] | None:
        ids = self._bridge_history(prev_prompt, prev_completion, new_messages, closing_id=self._im_end)
        if ids is None:
            return None
        # The new messages rendered behind a placeholder system message (so no default system
        # prompt is written), cut at the first new message.
        body = self._pieces([{"role": "system", "content": ""}, *new_messages], None, True)
        start = next(k for k, p in enumerate(body) if p[0] == "m" and p[2] == 1)
        return ids + self._enc.encode(body[start:])
