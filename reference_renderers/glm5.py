"""Hand-written GLM-5 renderer: GLM-5, GLM-5.1 and GLM-5.2 (one class; the templates differ in
data, one :class:`_Model` record per model id).

Written from the behaviour of the templates in ``zai-org__GLM-5``, ``zai-org__GLM-5.1`` and
``zai-org__GLM-5.2``, not by calling them:

* every render opens ``[gMASK]<sop>``; GLM-5.2 then writes ``<|system|>Reasoning Effort: Max``
  (``High`` for ``reasoning_effort="high"``) unless thinking is off;
* declared tools follow as one ``<|system|>`` block (one JSON line per tool: GLM-5.1/5.2 unwrap
  its ``function``, leave ``strict`` and ``defer_loading`` out and skip deferred tools; GLM-5 writes
  the whole tool as given);
* messages are only a role marker and the text: ``<|system|>``, ``<|user|>``, ``<|assistant|>``,
  ``<|observation|>`` (once per run of tool results, each ``<tool_response>...</tool_response>``).
  **No token closes an assistant turn**: the next message's marker does, and the model samples it
  (``<|user|>`` after an answer, ``<|observation|>`` after tool calls; registry
  ``turn_end = "next_message"``, :mod:`conformance.oracle.turn_end`);
* an assistant message is ``<think>reasoning</think>`` when its reasoning is shown and an empty
  block otherwise (GLM-5.2 ``<think></think>``, GLM-5.1 a lone ``</think>``), then its text
  trimmed, then ``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value>...</tool_call>``
  per call (string values raw, other values as JSON). Reasoning is shown for turns after the last
  user message (``clear_thinking=false``: for every turn); reasoning may also come from a
  ``<think>...</think>`` prefix of the content. GLM-5 shows only non-empty reasoning, stripped
  (and strips the newlines around a ``</think>`` prefix). GLM-5.1 gives a turn after the last user message
  empty reasoning when thinking is on, and (only visible with ``clear_thinking=false``) a turn
  whose user turn had reasoning elsewhere;
* the generation prompt is ``<|assistant|><think>``; thinking off: GLM-5.2 ``<think></think>``,
  GLM-5 and GLM-5.1 ``</think>``.

Extension property: **no** in every variant. GLM-5.2 ``preserve_thinking`` comes closest: no turn
is rewritten, and a sampled turn ``reasoning</think>answer<|user|>`` is exactly what history holds
when a user or tool message follows. But a system message after an assistant turn opens with
``<|system|>``, which no sampler stops on, so the ``<|user|>`` the model sampled is not in the next
prompt (``basic-system-mid-conversation``). Elsewhere reasoning of earlier turns is dropped
(``reasoning-earlier-turn``), GLM-5.1 rewrites a finished turn's ``<think></think>`` to
``</think>`` (``basic-two-turns``), and with thinking off a conversation may still carry reasoning
that the template renders. The bridge keeps the sampled ids and lets the stop id the model
sampled serve as the first new message's marker.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conformance.messages import tool_arguments_value, validate_messages
from reference_renderers.base import PieceRenderer, Pieces
from reference_renderers.parsers import parse_glm

__all__ = ["Glm5Renderer"]

_TOOLS_INTRO = (
    "<|system|>\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
_TOOLS_OUTRO = (
    "</tools>\n\nFor each function call, output the function name and arguments within the following XML format:\n"
    "<tool_call>{function-name}<arg_key>{arg-key-1}</arg_key><arg_value>{arg-value-1}</arg_value>"
    "<arg_key>{arg-key-2}</arg_key><arg_value>{arg-value-2}</arg_value>...</tool_call>"
)
@dataclass(frozen=True)
class _Model:
    """What one GLM-5 template does differently from the others."""

    effort_line: bool  # writes <|system|>Reasoning Effort: ... when thinking is on
    empty_think: str  # what a turn without shown reasoning opens with
    prompt_off: str  # the generation prompt's end with thinking off
    implicit_reasoning: bool  # GLM-5.1: empty reasoning for turns that would have shown it
    whole_tool: bool = False  # declares each tool as given (no unwrapping, nothing skipped)
    stripped_reasoning: bool = False  # shows only non-empty reasoning, stripped


_MODELS = {
    "zai-org/GLM-5": _Model(effort_line=False, empty_think="</think>", prompt_off="</think>", implicit_reasoning=False,
                            whole_tool=True, stripped_reasoning=True),
    "zai-org/GLM-5.1": _Model(effort_line=False, empty_think="</think>", prompt_off="</think>", implicit_reasoning=True),
    "zai-org/GLM-5.2": _Model(effort_line=True, empty_think="<think></think>", prompt_off="<think></think>", implicit_reasoning=False),
}


def _dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False)


def _declare(tool: dict[str, Any]) -> str:
    """One tool as the template's ``tool_to_json`` writes it (keys raw, values ``tojson``)."""
    spec = tool["function"] if "function" in tool else tool
    return "{" + ", ".join(f'"{k}": {_dumps(v)}' for k, v in spec.items() if k not in ("defer_loading", "strict")) + "}"


class Glm5Renderer(PieceRenderer):
    family = "glm5"
    parser = staticmethod(parse_glm)
    default_model = "zai-org/GLM-5.2"
    has_extension_property = False
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)
        if model_id not in _MODELS:
            raise ValueError(f"Glm5Renderer knows {', '.join(_MODELS)}, not {model_id}")
        self._model = _MODELS[model_id]
        kw = self.template_kwargs
        self._thinking = kw.get("enable_thinking", True) is not False
        self._keep_all = kw.get("clear_thinking", True) is False
        self._effort = "High" if kw.get("reasoning_effort") == "high" else "Max"
        self._markers = {r: self._enc.id(t) for r, t in (("user", "<|user|>"), ("tool", "<|observation|>"), ("system", "<|system|>"))}

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        if messages:
            validate_messages(messages)
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        s("[gMASK]<sop>")
        if self._model.effort_line and self._thinking:
            s(f"<|system|>Reasoning Effort: {self._effort}")
        if tools:
            s(_TOOLS_INTRO)
            for tool in tools:
                spec = tool["function"] if "function" in tool else tool
                if self._model.whole_tool:
                    c(_dumps(tool) + "\n")
                elif not spec.get("defer_loading"):
                    c(_declare(tool) + "\n")
            s(_TOOLS_OUTRO)
        last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
        with_reasoning = self._users_with_reasoning(messages)
        turn_has_reasoning = False
        for i, m in enumerate(messages):
            out.append(("m", "", i))
            role = m["role"]
            if role == "user":
                s("<|user|>")
                c(m["content"])
                turn_has_reasoning = i in with_reasoning
            elif role == "system":
                s("<|system|>")
                c(m["content"])
            elif role == "tool":
                if i == 0 or messages[i - 1]["role"] != "tool":
                    s("<|observation|>")
                s("<tool_response>")
                c(m["content"])
                s("</tool_response>")
            else:
                self._assistant(out, m, i, last_user, turn_has_reasoning)
        if agp:
            out.append(("m", "", -1))
            s("<|assistant|>" + ("<think>" if self._thinking else self._model.prompt_off))
        return out

    @staticmethod
    def _users_with_reasoning(messages: Sequence[dict[str, Any]]) -> set[int]:
        """GLM-5.1: indices of the user messages whose turn holds an assistant message with
        reasoning (-1: before any user message)."""
        out, user = set(), -1
        for i, m in enumerate(messages):
            if m["role"] == "user":
                user = i
            elif m["role"] == "assistant" and isinstance(m.get("reasoning_content"), str):
                out.add(user)
        return out

    def _assistant(self, out: Pieces, m: dict[str, Any], i: int, last_user: int, turn_has_reasoning: bool) -> None:
        # Assistant text goes in as structure: the template's render (and the sampler) has any
        # spelled token as the token itself.
        s = lambda t: out.append(("s", t))  # noqa: E731
        content = m.get("content") or ""
        rc = m.get("reasoning_content")
        reasoning: str | None = rc if isinstance(rc, str) else None
        model = self._model
        if reasoning is None and "</think>" in content and model.stripped_reasoning:
            reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
            content = content.split("</think>")[-1].lstrip("\n")
        elif reasoning is None and "</think>" in content:
            reasoning = content.split("</think>")[0].split("<think>")[-1]
            content = content.split("</think>")[-1]
        elif reasoning is None and model.implicit_reasoning:
            if (i > last_user and self._thinking) or (i < last_user and turn_has_reasoning):
                reasoning = ""
        s("<|assistant|>")
        if reasoning is not None and (self._keep_all or i > last_user) and (reasoning or not model.stripped_reasoning):
            s("<think>" + (reasoning.strip() if model.stripped_reasoning else reasoning) + "</think>")
        else:
            s(model.empty_think)
        s(content.strip())
        for j, call in enumerate(m.get("tool_calls") or []):
            fn = call.get("function", call)
            args = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[{j}]")
            s("<tool_call>" + fn["name"])
            for key, v in args.items():
                s(f"<arg_key>{key}</arg_key><arg_value>{v if isinstance(v, str) else _dumps(v)}</arg_value>")
            s("</tool_call>")

    def _closing_marker(self, messages: Sequence[dict[str, Any]]) -> int:
        """What the model samples to end the final turn: the marker of the message that follows it
        in a rollout, ``<|observation|>`` after tool calls, else ``<|user|>``."""
        return self._markers["tool" if messages[-1].get("tool_calls") else "user"]

    def bridge_to_next_turn(self, prev_prompt: Sequence[int], prev_completion: Sequence[int],
                            new_messages: Sequence[dict[str, Any]], *, tools: Any = None) -> list[int] | None:
        if not new_messages:
            return None
        marker = self._markers.get(new_messages[0].get("role", ""))
        if marker is None:
            return None  # an assistant message (sampled, never bridged) or a role validate refuses
        # A truncated completion is closed by the first new message's marker, as the template
        # closes every turn; a completion that ended with that very marker already holds it.
        ids = self._bridge_history(prev_prompt, prev_completion, new_messages, closing_id=marker)
        if ids is None:
            return None
        if ids[-1] != marker:
            # The model stopped on another stop id (<|endoftext|>, or <|user|> before tool
            # results): it stays, as sampled, and the new message still opens with its marker.
            ids.append(marker)
        # The new messages as they follow an assistant turn, after their first marker.
        body = self._pieces([{"role": "assistant", "content": ""}, *new_messages], None, True)
        start = next(k for k, p in enumerate(body) if p[0] == "m" and p[2] == 1)
        rest = self._enc.encode(body[start:])
        assert rest[0] == marker
        return ids + rest[1:]
