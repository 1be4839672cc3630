"""Hand-written DeepSeek-V3.1 renderer (thinking and non-thinking).

Written from the behaviour of the DeepSeek-V3.1 template (snapshot ``deepseek-ai__DeepSeek-V3.1``),
not by calling it. What it shares with DeepSeek-V3 (every system message hoisted to the top, the
bridge) comes from :class:`~reference_renderers.deepseek_v3.DeepSeekV3Renderer`; what differs:

* an assistant turn that follows a user message opens ``<｜Assistant｜><think></think>``; the
  generation prompt opens ``<think>`` when ``thinking=true`` and ``<think></think>`` otherwise;
* reasoning is never rendered, and an earlier turn keeps only the text after its ``</think>``;
* tool calls: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{json}<｜tool▁call▁end｜>
  ...<｜tool▁calls▁end｜><｜end▁of▁sentence｜>``, after the message's text;
* tool results are ``<｜tool▁output▁begin｜>...<｜tool▁output▁end｜>``; the assistant answer after
  them follows directly, and a conversation ending in a tool result gets no generation prompt (the
  model continues right after the result);
* tool declarations are not rendered (the template ignores ``tools``).

Extension property: **no**: a later system message is hoisted to the top, and in ``thinking`` the
sampled reasoning is dropped from history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.messages import tool_arguments_value, validate_messages
from reference_renderers.base import Pieces
from reference_renderers.deepseek_v3 import ASSISTANT, EOS, USER, DeepSeekV3Renderer, system_head
from reference_renderers.parsers import parse_deepseek_v31

__all__ = ["DeepSeekV31Renderer"]

CALLS_BEGIN, CALLS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
CALL_BEGIN, CALL_SEP, CALL_END = "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>"
OUTPUT_BEGIN, OUTPUT_END = "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>"


class DeepSeekV31Renderer(DeepSeekV3Renderer):
    family = "deepseek-v3.1"
    parser = staticmethod(parse_deepseek_v31)
    default_model = "deepseek-ai/DeepSeek-V3.1"
    has_extension_property = False
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)
        kw = self.template_kwargs
        self._thinking = bool(kw.get("thinking", kw.get("enable_thinking", False)))

    def _pieces(
        self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool, *, outputs_seen: bool = False, head: bool = True
    ) -> Pieces:
        if messages:
            validate_messages(messages)
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        if head:
            out += system_head(messages)
        last_user = in_tool = False
        for i, m in enumerate(messages):
            out.append(("m", "", i))
            role = m["role"]
            if role == "user":
                in_tool, last_user = False, True
                s(USER)
                c(m["content"])
            elif role == "assistant" and m.get("tool_calls"):
                if last_user:
                    s(ASSISTANT + "<think></think>")
                last_user = in_tool = False
                s(m.get("content") or "")
                for j, call in enumerate(m["tool_calls"]):
                    fn = call.get("function", call)
                    args = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[{j}]")
                    args_text = json.dumps(args, ensure_ascii=False)
                    s((CALLS_BEGIN if j == 0 else "") + CALL_BEGIN + fn["name"] + CALL_SEP + args_text + CALL_END)
                s(CALLS_END + EOS)
            elif role == "assistant":
                if last_user:
                    s(ASSISTANT + "<think></think>")
                last_user = False
                content = m.get("content") or ""
                if not in_tool and "</think>" in content:
                    content = content.split("</think>", 1)[1]
                in_tool = False
                s(content + EOS)
            elif role == "tool":
                last_user, in_tool = False, True
                s(OUTPUT_BEGIN)
                c(m["content"])
                s(OUTPUT_END)
        if agp and last_user and not in_tool:
            out.append(("m", "", -1))
            s(ASSISTANT + ("<think>" if self._thinking else "<think></think>"))
        return out
