"""Hand-written Nemotron-3 renderer (ChatML, <think> blocks, XML tool declarations and calls).

Written from the behaviour of the NVIDIA-Nemotron-3-Nano-30B-A3B template (snapshot
``nvidia__NVIDIA-Nemotron-3-Nano-30B-A3B-BF16``), not by calling it. Template rules reproduced:

* a system block is always written, empty when the conversation has no leading system message;
  tools are declared in it as XML (``<function><name>...<parameters><parameter>...``), keys the
  template does not know written as ``<key>value</key>`` (JSON for containers);
* an assistant message is ``<think>\\nREASONING\\n</think>\\nCONTENT`` when it has reasoning and
  ``<think></think>CONTENT`` when it has none, trimmed;
* ``truncate_history_thinking`` (default on): turns before the last user message keep only the
  text after ``</think>``, behind an empty ``<think></think>``;
* tool calls: ``<tool_call>\\n<function=NAME>\\n<parameter=K>\\nVALUE\\n</parameter>\\n</function>
  \\n</tool_call>\\n`` after the text, non-container scalars through Jinja's ``string`` (``True``);
* tool results share one user block; the generation prompt opens ``<think>\\n`` (``no_thinking``:
  ``<think></think>``).

Extension property: **no** in every variant: a turn without reasoning is sampled after
``<think>\\n`` but rendered in history as ``<think></think>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.messages import tool_arguments_value, validate_messages
from reference_renderers.base import Pieces
from reference_renderers.parsers import parse_xml_tool_calls
from reference_renderers.qwen3 import Qwen3Renderer, _dumps
from reference_renderers.qwen35 import TOOLS_INTRO, XML_CALL_INSTRUCTIONS, jinja_string_or_json

__all__ = ["Nemotron3Renderer"]

def _extra_keys(d: Any, handled: Sequence[str]) -> str:
    if not isinstance(d, dict):
        return ""
    return "".join(f"\n<{k}>{jinja_string_or_json(v)}</{k}>" for k, v in d.items() if k not in handled)


def _declare(tool: dict[str, Any]) -> str:
    fn = tool.get("function", tool)
    out = f"\n<function>\n<name>{fn['name']}</name>"
    if "description" in fn:
        out += f"\n<description>{str(fn['description']).strip()}</description>"
    out += "\n<parameters>"
    params = fn.get("parameters")
    if isinstance(params, dict) and isinstance(params.get("properties"), dict):
        for name, fields in params["properties"].items():
            out += f"\n<parameter>\n<name>{name}</name>"
            if "type" in fields:
                out += f"\n<type>{fields['type']}</type>"
            if "description" in fields:
                out += f"\n<description>{str(fields['description']).strip()}</description>"
            if "enum" in fields:
                out += f"\n<enum>{_dumps(fields['enum'])}</enum>"
            out += _extra_keys(fields, ("name", "type", "description", "enum")) + "\n</parameter>"
    out += _extra_keys(params, ("type", "properties", "required"))
    if isinstance(params, dict) and "required" in params:
        out += f"\n<required>{_dumps(params['required'])}</required>"
    return out + "\n</parameters>" + _extra_keys(fn, ("type", "name", "description", "parameters")) + "\n</function>"


class Nemotron3Renderer(Qwen3Renderer):
    family = "nemotron3"
    parser = staticmethod(parse_xml_tool_calls)
    default_model = "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"
    has_extension_property = False
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)
        self._thinking = self.template_kwargs.get("enable_thinking", True) is not False
        self._truncate = self.template_kwargs.get("truncate_history_thinking", True) is not False

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        if messages:
            validate_messages(messages)
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        first = 1 if messages and messages[0]["role"] == "system" else 0
        system = messages[0]["content"] if first else ""
        if first:
            out.append(("m", "", 0))
        s("<|im_start|>system\n")
        c(system)
        if tools:
            s(("\n\n" if system else "") + TOOLS_INTRO)
            for tool in tools:
                c(_declare(tool))
            s(XML_CALL_INSTRUCTIONS)
        s("<|im_end|>\n")
        loop = list(enumerate(messages))[first:]
        last_user = max((k for k, (_, m) in enumerate(loop) if m["role"] == "user"), default=-1)
        for k, (i, m) in enumerate(loop):
            out.append(("m", "", i))
            role = m["role"]
            if role == "assistant":
                self._assistant3(out, m, i, truncated=self._truncate and k < last_user)
            elif role in ("user", "system"):
                s(f"<|im_start|>{role}\n")
                c(m["content"])
                s("<|im_end|>\n")
            elif role == "tool":
                if k > 0 and loop[k - 1][1]["role"] != "tool":
                    s("<|im_start|>user\n")
                s("<tool_response>\n")
                c(m["content"])
                s("\n</tool_response>\n")
                if k == len(loop) - 1 or loop[k + 1][1]["role"] != "tool":
                    s("<|im_end|>\n")
        if agp:
            out.append(("m", "", -1))
            s("<|im_start|>assistant\n" + ("<think>\n" if self._thinking else "<think></think>"))
        return out

    def _assistant3(self, out: Pieces, m: dict[str, Any], i: int, *, truncated: bool) -> None:
        s = lambda t: out.append(("s", t))  # noqa: E731
        rc = m.get("reasoning_content")
        body = m.get("content") or ""
        if isinstance(rc, str) and rc.strip():
            content = "<think>\n" + rc + "\n</think>\n" + body
        else:
            content = body if ("<think>" in body or "</think>" in body) else "<think></think>" + body
        calls = m.get("tool_calls") or []
        if calls:
            s("<|im_start|>assistant\n")
            if content.strip():
                if not truncated:
                    s(content.strip() + "\n")
                else:
                    cut = content
                    if "</think>" in cut:
                        cut = cut.split("</think>")[-1]
                    elif "<think>" in cut:
                        cut = cut.split("<think>")[0]
                    s("<think></think>" + cut.strip() + "\n")
            else:
                s("<think></think>")
            for j, call in enumerate(calls):
                fn = call.get("function", call)
                args = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[{j}]")
                s(f"<tool_call>\n<function={fn['name']}>\n")
                for key, v in args.items():
                    s(f"<parameter={key}>\n{jinja_string_or_json(v)}\n</parameter>\n")
                s("</function>\n</tool_call>\n")
            s("<|im_end|>\n")
        elif not truncated:
            s("<|im_start|>assistant\n" + content.strip() + "<|im_end|>\n")
        else:
            cut = content
            if "<think>" in cut and "</think>" in cut:
                cut = "<think></think>" + cut.split("</think>")[-1]
            s("<|im_start|>assistant\n" + cut.strip() + "<|im_end|>\n")
