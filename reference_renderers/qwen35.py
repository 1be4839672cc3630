"""Hand-written Qwen3.5 / Qwen3.6 renderer (ChatML, <think> blocks, XML-parameter tool calls).

Written from the behaviour of the Qwen3.5-9B and Qwen3.6-35B-A3B templates (snapshots
``Qwen__Qwen3.5-9B`` and ``Qwen__Qwen3.6-35B-A3B``), not by calling them. The two templates differ
in two lines, which are data here (:data:`_FLAVOURS`), not a second class:

* how a tool-call argument that is not a container is written: Qwen3.5 uses Jinja's ``string``
  filter (Python spellings: ``True``, ``None``), Qwen3.6 writes strings raw and the rest as JSON;
* Qwen3.6's ``preserve_thinking`` keeps every assistant turn's ``<think>`` block.

Template rules reproduced here (where they differ from Qwen3):
* user, system, tool and assistant text is trimmed of surrounding whitespace;
* a system message anywhere but first, or a conversation with no user query, is refused (the
  template raises);
* every assistant turn after the last user query carries a ``<think>`` block, even empty;
* the generation prompt opens ``<think>\\n`` (``no_thinking``: an empty ``<think>\\n\\n</think>\\n\\n``);
* tool calls: ``<tool_call>\\n<function=NAME>\\n<parameter=K>\\nVALUE\\n</parameter>\\n...``;
* a user message's content may be text and image parts (capability ``images``, on a model the
  registry gives ``vision``): each image is ``<|vision_start|>``, one ``<|image_pad|>`` per merged
  patch of the resized image, ``<|vision_end|>`` (:mod:`reference_renderers.vision`).

Extension property: **no** in every variant. Reasoning of earlier turns is dropped once a new user
query arrives, and even with ``preserve_thinking`` (history never rewritten) a turn sampled after
``<think>\n`` with empty reasoning renders in history as ``<think>\n\n</think>``, where
``\n\n`` is one token: a BPE seam (``basic-two-turns``). For the same reason the thinking
variants' full renders are not token extensions of their generation prompts, and the goldens
record no completion slice for those cases.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.messages import tool_arguments_value, validate_messages
from reference_renderers.base import Pieces
from reference_renderers.parsers import parse_xml_tool_calls
from reference_renderers.qwen3 import Qwen3Renderer, _dumps
from reference_renderers.vision import ImageGrid, content_segments, plain_text

__all__ = ["Qwen35Renderer", "TOOLS_INTRO", "XML_CALL_INSTRUCTIONS", "jinja_string_or_json"]

TOOLS_INTRO = "# Tools\n\nYou have access to the following functions:\n\n<tools>"
# The closing instructions of the tool block, word for word in Qwen3.5/3.6 and Nemotron-3.
XML_CALL_INSTRUCTIONS = (
    "\n</tools>\n\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n"
    "<parameter=example_parameter_2>\nThis is the value for the second parameter\nthat can span\nmultiple lines\n"
    "</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\nReminder:\n"
    "- Function calls MUST follow the specified format: an inner <function=...></function> block must be nested "
    "within <tool_call></tool_call> XML tags\n- Required parameters MUST be specified\n"
    "- You may provide optional reasoning for your function call in natural language BEFORE the function call, "
    "but NOT after\n- If there is no function call available, answer the question like normal with your current "
    "knowledge and do not tell the user about function calls\n</IMPORTANT>"
)


def jinja_string_or_json(v: Any) -> str:
    """Containers as JSON, anything else through Jinja's ``string`` filter, which is Python's
    str(): True -> "True", None -> "None", 1e-07 stays (Qwen3.5 and Nemotron-3 arguments)."""
    return _dumps(v) if isinstance(v, (dict, list)) else str(v)


def _qwen36_value(v: Any) -> str:
    return v if isinstance(v, str) else _dumps(v)


# model id -> how non-container arguments are written
_FLAVOURS = {"Qwen/Qwen3.5-9B": jinja_string_or_json, "Qwen/Qwen3.6-35B-A3B": _qwen36_value}


def _is_wrapped_tool_response(text: str) -> bool:
    return text.startswith("<tool_response>") and text.endswith("</tool_response>")


class Qwen35Renderer(Qwen3Renderer):
    family = "qwen3.5"
    parser = staticmethod(parse_xml_tool_calls)
    default_model = "Qwen/Qwen3.5-9B"
    has_extension_property = False
    bridge = True

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)
        self._value = _FLAVOURS.get(model_id, _qwen36_value)
        self._preserve = self.template_kwargs.get("preserve_thinking") is True
        self._thinking_off = self.template_kwargs.get("enable_thinking") is False
        # Images where the registry names the model's image processor (its config is vendored with the snapshot).
        self._grid = ImageGrid.from_snapshot(self._snapshot.path) if self.entry.vision else None
        if self._grid is not None:
            self.capabilities = dataclasses.replace(self.capabilities, images=True)

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        validate_messages(messages, parts=self._grid is not None)
        out: Pieces = []
        s = lambda t: out.append(("s", t))  # noqa: E731
        c = lambda t: out.append(("c", t))  # noqa: E731
        n = len(messages)
        # User content as text and image placeholders (a string is one text segment); the rest is text.
        user = {i: content_segments(m["content"], self._grid, where=f"message {i}") for i, m in enumerate(messages) if m["role"] == "user"}
        text = [plain_text(user[i]) if i in user else m["content"].strip() if isinstance(m.get("content"), str) else ""
                for i, m in enumerate(messages)]
        if tools:
            s("<|im_start|>system\n" + TOOLS_INTRO)
            for tool in tools:
                s("\n")
                c(_dumps(tool))
            s(XML_CALL_INSTRUCTIONS)
            if messages[0]["role"] == "system" and text[0]:
                out.append(("m", "", 0))
                s("\n\n")
                c(text[0])
            s("<|im_end|>\n")
        elif messages[0]["role"] == "system":
            out.append(("m", "", 0))
            s("<|im_start|>system\n")
            c(text[0])
            s("<|im_end|>\n")
        queries = [i for i, m in enumerate(messages) if m["role"] == "user" and not _is_wrapped_tool_response(text[i])]
        last_query = queries[-1] if queries else None
        if last_query is None:
            raise InvalidMessagesError("no user query in messages (the template refuses a conversation without one)")
        for i, m in enumerate(messages):
            role = m["role"]
            if role == "system":
                if i > 0:
                    raise InvalidMessagesError(f"message {i}: a system message must be the first message (the template refuses it here)")
                continue
            out.append(("m", "", i))
            if role == "user":
                s("<|im_start|>user\n")
                out.extend(user[i])
                s("<|im_end|>\n")
            elif role == "assistant":
                self._assistant35(out, m, text[i], i, last_query)
            elif role == "tool":
                if i > 0 and messages[i - 1]["role"] != "tool":
                    s("<|im_start|>user")
                s("\n<tool_response>\n")
                c(text[i])
                s("\n</tool_response>")
                if i == n - 1 or messages[i + 1]["role"] != "tool":
                    s("<|im_end|>\n")
        if agp:
            out.append(("m", "", -1))
            s("<|im_start|>assistant\n")
            s("<think>\n\n</think>\n\n" if self._thinking_off else "<think>\n")
        return out

    def _assistant35(self, out: Pieces, m: dict[str, Any], content: str, i: int, last_query: int) -> None:
        s = lambda t: out.append(("s", t))  # noqa: E731
        rc = m.get("reasoning_content")
        reasoning = rc if isinstance(rc, str) else ""
        if not isinstance(rc, str) and "</think>" in content:
            reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
            content = content.split("</think>")[-1].lstrip("\n")
        if self._preserve or i > last_query:
            s("<|im_start|>assistant\n<think>\n" + reasoning.strip() + "\n</think>\n\n" + content)
        else:
            s("<|im_start|>assistant\n" + content)
        for j, call in enumerate(m.get("tool_calls") or []):
            fn = call.get("function", call)
            args = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[{j}]")
            if j == 0:
                s(("\n\n" if content.strip() else "") + "<tool_call>\n<function=" + fn["name"] + ">\n")
            else:
                s("\n<tool_call>\n<function=" + fn["name"] + ">\n")
            for k, v in args.items():
                s(f"<parameter={k}>\n{self._value(v)}\n</parameter>\n")
            s("</function>\n</tool_call>")
        s("<|im_end|>\n")
