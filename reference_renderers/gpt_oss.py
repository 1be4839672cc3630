"""Hand-written gpt-oss renderer (harmony format, as the HF chat template writes it).

Written from the behaviour of the gpt-oss-20b template (snapshot ``openai__gpt-oss-20b``), variants
``reasoning_low|medium|high``; the date line reads the registry's pinned date. Where the template
and openai-harmony differ (the goldens' ``second_oracle`` records it), this follows the template.

* a system block (identity, knowledge cutoff, date, reasoning effort, valid channels, and the
  ``functions`` line when tools are declared);
* a developer block when the first message is a system message (``# Instructions``, its text,
  a blank line) or tools are declared (``# Tools``: a TypeScript-like namespace, reproduced with
  the template's whitespace, e.g. ``lang?: \\n                string`` inside nested objects);
* later system messages are not rendered (the template has no branch for them);
* an assistant message with tool calls renders only its first call,
  ``<|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>ARGS<|call|>``,
  preceded by its text or reasoning on the analysis channel unless a later assistant message
  answers without tools; the final assistant message of a training render keeps its reasoning and
  ends with ``<|return|>``; earlier answers lose their reasoning and end with ``<|end|>``;
* a tool result is authored by the last called function, its content as a JSON string.

Extension property: **no** (reasoning is dropped and ``<|return|>`` becomes ``<|end|>`` once the
conversation goes on). Bridge: tool results and user messages are appended after the sampled
tokens; the called function's name is read from the sampled tokens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.messages import tool_arguments_value, validate_messages
from reference_renderers.base import PieceRenderer, Pieces
from reference_renderers.parsers import parse_gpt_oss

__all__ = ["GptOssRenderer"]

_CHANNEL_TAGS = ("<|channel|>analysis<|message|>", "<|channel|>final<|message|>")
_CALLED = re.compile(r"to=functions\.([^<\s]+)")


def _dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False)


def ts_type(spec: dict[str, Any], required: Sequence[str]) -> str:
    """The template's ``render_typescript_type`` macro."""
    t = spec.get("type")
    if t == "array":
        items = spec.get("items")
        if items:
            simple = {"string": "string[]", "number": "number[]", "integer": "number[]", "boolean": "boolean[]"}
            if items.get("type") in simple:
                out = simple[items["type"]]
            else:
                inner = ts_type(items, required)
                out = "any[]" if inner == "object | object" or len(inner) > 50 else inner + "[]"
        else:
            out = "any[]"
        return out + (" | null" if spec.get("nullable") else "")
    if isinstance(t, list) and t:
        return " | ".join(t) if len(t) > 1 else t[0]
    if spec.get("oneOf"):
        variants = spec["oneOf"]
        if any(v.get("type") == "object" for v in variants) and len(variants) > 1:
            return "any"
        parts = []
        for k, v in enumerate(variants):
            if "default" in v:
                raise InvalidMessagesError("tools: a oneOf variant with a default is not supported by GptOssRenderer")
            text = ts_type(v, required) + (f"// {v['description']}" if v.get("description") else "")
            parts.append(text + (" | \n" if k < len(variants) - 1 else ""))
        return "".join(parts)
    if t == "string":
        if spec.get("enum"):
            return '"' + '" | "'.join(spec["enum"]) + '"'
        return "string" + (" | null" if spec.get("nullable") else "")
    if t in ("number", "integer"):
        return "number"
    if t == "boolean":
        return "boolean"
    if t == "object":
        props = spec.get("properties")
        if not props:
            return "object"
        req = spec.get("required") or []
        items = [f"{name}{'' if name in req else '?'}: \n                {ts_type(p, req)}" for name, p in props.items()]
        return "{\n" + ", ".join(items) + "}"
    return "any"


def tool_namespace(tools: Sequence[dict[str, Any]]) -> str:
    """The template's ``render_tool_namespace("functions", tools)``."""
    out = ["## functions\n\nnamespace functions {\n\n"]
    for tool in tools:
        fn = tool["function"]
        out.append(f"// {fn.get('description')}\ntype {fn['name']} = ")
        params = fn.get("parameters") or {}
        if params and params.get("properties"):
            out.append("(_: {\n")
            req = params.get("required") or []
            for name, p in params["properties"].items():
                if p.get("description"):
                    out.append(f"// {p['description']}\n")
                out.append(f"{name}{'' if name in req else '?'}: {ts_type(p, req)}")
                if "default" in p:
                    if p.get("enum"):
                        out.append(", // default: " + str(p["default"]))
                    elif p.get("oneOf"):
                        out.append("// default: " + str(p["default"]))
                    else:
                        out.append(", // default: " + _dumps(p["default"]))
                out.append(",\n")
            out.append("}) => any;\n\n")
        else:
            out.append("() => any;\n\n")
    out.append("} // namespace functions")
    return "".join(out)


class GptOssRenderer(PieceRenderer):
    family = "gpt-oss"
    parser = staticmethod(parse_gpt_oss)
    default_model = "openai/gpt-oss-20b"
    has_extension_property = False
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)
        self._effort = self.template_kwargs.get("reasoning_effort", "medium")
        self._date = self.entry.pinned_date

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        if messages:
            validate_messages(messages)
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        s(
            "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
            f"Knowledge cutoff: 2024-06\nCurrent date: {self._date}\n\nReasoning: {self._effort}\n\n"
            "# Valid channels: analysis, commentary, final. Channel must be included for every message."
        )
        if tools:
            s("\nCalls to these tools must go to the commentary channel: 'functions'.")
        s("<|end|>")
        msgs = list(messages)
        developer = msgs.pop(0)["content"] if msgs and msgs[0]["role"] == "system" else ""
        offset = len(messages) - len(msgs)
        if developer or tools:
            s("<|start|>developer<|message|>")
            if developer:
                s("# Instructions\n\n")
                c(developer)
                s("\n\n")
            if tools:
                s("# Tools\n\n")
                c(tool_namespace(tools))
            s("<|end|>")
        self._messages(out, msgs, offset, agp, None)
        if agp:
            out.append(("m", "", -1))
            s("<|start|>assistant")
        return out

    def _messages(self, out: Pieces, msgs: Sequence[dict[str, Any]], offset: int, agp: bool, last_call: str | None) -> None:
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        for k, m in enumerate(msgs):
            i = offset + k
            out.append(("m", "", i))
            role = m["role"]
            if role == "user":
                s("<|start|>user<|message|>")
                c(m["content"])
                s("<|end|>")
            elif role == "tool":
                if last_call is None:
                    raise InvalidMessagesError(f"message {i} (tool): no earlier assistant message with a tool call")
                s(f"<|start|>functions.{last_call} to=assistant<|channel|>commentary<|message|>")
                c(_dumps(m["content"]))
                s("<|end|>")
            elif role == "assistant":
                content = m.get("content") or ""
                thinking = m.get("reasoning_content")
                for field, text in (("content", content), ("reasoning_content", thinking or "")):
                    if any(tag in text for tag in _CHANNEL_TAGS):
                        raise InvalidMessagesError(
                            f"message {i} (assistant): {field} contains <|channel|> tags; pass analysis as reasoning"
                        )
                if "tool_calls" in m:
                    later_final = any(x["role"] == "assistant" and "tool_calls" not in x for x in msgs[k + 1 :])
                    if content and thinking:
                        raise InvalidMessagesError(f"message {i} (assistant): content and reasoning together with tool calls")
                    analysis = content or thinking
                    if analysis and not later_final:
                        s("<|start|>assistant<|channel|>analysis<|message|>")
                        s(analysis)
                        s("<|end|>")
                    fn = m["tool_calls"][0]["function"]
                    args = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[0]")
                    s("<|start|>assistant to=")
                    s(f"functions.{fn['name']}")
                    s("<|channel|>commentary json<|message|>")
                    s(_dumps(args))
                    s("<|call|>")
                    last_call = fn["name"]
                elif k == len(msgs) - 1 and not agp:
                    if thinking is not None:
                        s("<|start|>assistant<|channel|>analysis<|message|>")
                        s(thinking)
                        s("<|end|>")
                    s("<|start|>assistant<|channel|>final<|message|>")
                    s(content)
                    s("<|return|>")
                else:
                    s("<|start|>assistant<|channel|>final<|message|>")
                    s(content)
                    s("<|end|>")
                    last_call = None
            # later system messages: the template has no branch for them (not rendered)

    def bridge_to_next_turn(
        self, prev_prompt: Sequence[int], prev_completion: Sequence[int], new_messages: Sequence[dict[str, Any]], *, tools: Any = None
    ) -> list[int] | None:
        if not new_messages or any(m.get("role") in ("assistant", "system") for m in new_messages):
            return None  # assistant messages are sampled; a system message is not rendered mid-conversation
        validate_messages(new_messages)
        ids = list(prev_prompt) + list(prev_completion)
        text = self.tokenizer.decode(list(prev_completion), skip_special_tokens=False)
        # The message being sampled is a tool call when its header addresses a function.
        called = _CALLED.findall(text.rsplit("<|start|>", 1)[-1])
        call_id, return_id = self._enc.id("<|call|>"), self._enc.id("<|return|>")
        if not prev_completion or prev_completion[-1] not in self._stop_ids:
            # Truncated: close it with the token the model ends such a message with.
            ids.append(call_id if called else return_id)
        last_call = called[-1] if called and ids[-1] == call_id else None
        out: Pieces = []
        self._messages(out, new_messages, 0, True, last_call)
        out.append(("s", "<|start|>assistant"))
        return ids + self._enc.encode(out)
