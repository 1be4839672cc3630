"""openai-harmony as a second oracle for gpt-oss.

gpt-oss has two renderers from its makers: the Jinja chat template shipped with the HF snapshot
(our first oracle, the one goldens are judged on) and the ``openai-harmony`` library. They do not
always agree. For every gpt-oss golden this module renders the same case through harmony and
records, next to the template's ids, whether the generation prompt, the full conversation and the
parse of the completion agree, and where they first differ.

Mapping of OpenAI-style messages onto harmony (ours, written down once so that a difference is a
fact about the renderers, not about the mapping):

* the first ``system`` message becomes the developer message's instructions (the template does the
  same); tools become the developer message's function tools; the system message is harmony's
  ``SystemContent`` with the variant's reasoning effort and the registry's pinned date;
* a later ``system`` message becomes a harmony system message with that text;
* an assistant's ``reasoning_content`` becomes an ``analysis`` message; its content becomes the
  ``final`` message, or, when it calls tools, an ``analysis`` message (where the template puts it);
  each tool call becomes a ``commentary`` message to ``functions.<name>`` with content type
  ``<|constrain|>json`` and the call's arguments as JSON text;
* a ``tool`` message is authored by ``functions.<name>`` of the call it answers, to ``assistant`` on
  ``commentary``.

Prompts use ``render_conversation_for_completion(..., Role.ASSISTANT)``, full conversations
``render_conversation_for_training`` (both with harmony's default configuration), completions are
parsed with ``parse_messages_from_completion_tokens``. Harmony encodes content as text, so its ids
are compared with the goldens' safe ids.

Offline: harmony downloads o200k_base on first use unless ``TIKTOKEN_ENCODINGS_BASE`` names a folder
holding it; :func:`load_encoding` points it at ``fixtures/vocab`` after checking the file's sha256.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance.errors import FixtureError
from conformance.messages import tool_arguments_value
from conformance.oracle.message_spans import first_divergence

__all__ = ["NAME", "O200K_SHA256", "load_encoding", "HarmonyOracle"]

NAME = "openai-harmony"
# The hash tiktoken itself expects for o200k_base (also in fixtures/vocab/SOURCE.md).
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_WINDOW = 6  # tokens shown on each side of a first divergence


@functools.cache
def load_encoding(vocab_dir: str) -> Any:
    """The gpt-oss harmony encoding, loaded from ``vocab_dir`` without touching the network."""
    path = Path(vocab_dir) / "o200k_base.tiktoken"
    if not path.is_file():
        raise FixtureError(f"{path}: missing; openai-harmony needs it offline (see fixtures/vocab/SOURCE.md)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != O200K_SHA256:
        raise FixtureError(f"{path}: sha256 {digest} is not the o200k_base hash {O200K_SHA256}")
    import openai_harmony as h

    # Harmony reads the variable when it first loads the vocabulary; a user's own setting wins.
    os.environ.setdefault("TIKTOKEN_ENCODINGS_BASE", str(path.parent))
    return h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)


class HarmonyOracle:
    """Renders and parses cases with openai-harmony, mapped as the module docstring says."""

    def __init__(self, pinned_date: str, vocab_dir: Path):
        self.pinned_date = pinned_date
        self.enc = load_encoding(str(vocab_dir))

    # ---- mapping ----------------------------------------------------------------------------
    def conversation(
        self, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None, template_kwargs: dict[str, Any]
    ) -> Any:
        import openai_harmony as h

        effort = str(template_kwargs.get("reasoning_effort", "medium")).upper()
        system = h.SystemContent.new().with_reasoning_effort(h.ReasoningEffort[effort]).with_conversation_start_date(self.pinned_date)
        out = [h.Message.from_role_and_content(h.Role.SYSTEM, system)]
        rest = list(messages)
        instructions = None
        if rest and rest[0]["role"] == "system":
            instructions = rest.pop(0)["content"]
        if instructions is not None or tools:
            dev = h.DeveloperContent.new()
            if instructions is not None:
                dev = dev.with_instructions(instructions)
            if tools:
                dev = dev.with_function_tools(
                    [
                        h.ToolDescription.new(
                            t["function"]["name"], t["function"].get("description", ""), parameters=t["function"].get("parameters")
                        )
                        for t in tools
                    ]
                )
            out.append(h.Message.from_role_and_content(h.Role.DEVELOPER, dev))
        call_names: dict[str, str] = {}
        last_call = ""
        for m in rest:
            role = m["role"]
            if role == "system":
                out.append(h.Message.from_role_and_content(h.Role.SYSTEM, m["content"]))
            elif role == "user":
                out.append(h.Message.from_role_and_content(h.Role.USER, m["content"]))
            elif role == "tool":
                name = m.get("name") or call_names.get(m.get("tool_call_id", ""), last_call)
                author = h.Author.new(h.Role.TOOL, f"functions.{name}")
                out.append(h.Message.from_author_and_content(author, m["content"]).with_recipient("assistant").with_channel("commentary"))
            else:
                out.extend(self._assistant(m, call_names))
                for call in m.get("tool_calls") or []:
                    last_call = call["function"]["name"]
        return h.Conversation.from_messages(out)

    def _assistant(self, m: dict[str, Any], call_names: dict[str, str]) -> list[Any]:
        import openai_harmony as h

        msgs = []
        a = h.Role.ASSISTANT
        if m.get("reasoning_content"):
            msgs.append(h.Message.from_role_and_content(a, m["reasoning_content"]).with_channel("analysis"))
        calls = m.get("tool_calls") or []
        if calls and m.get("content"):
            msgs.append(h.Message.from_role_and_content(a, m["content"]).with_channel("analysis"))
        elif not calls:
            # An empty answer is still a final message (the template renders it too).
            msgs.append(h.Message.from_role_and_content(a, m.get("content") or "").with_channel("final"))
        for call in calls:
            fn = call["function"]
            call_names[call.get("id", "")] = fn["name"]
            args = fn["arguments"] if isinstance(fn["arguments"], str) else json.dumps(fn["arguments"], ensure_ascii=False)
            msgs.append(
                h.Message.from_role_and_content(a, args)
                .with_channel("commentary")
                .with_recipient(f"functions.{fn['name']}")
                .with_content_type("<|constrain|>json")
            )
        return msgs

    # ---- rendering and parsing -----------------------------------------------------------------
    def prompt_ids(self, messages: Sequence[dict[str, Any]], tools: Any, template_kwargs: dict[str, Any]) -> list[int]:
        import openai_harmony as h

        return list(self.enc.render_conversation_for_completion(self.conversation(messages, tools, template_kwargs), h.Role.ASSISTANT))

    def full_ids(self, messages: Sequence[dict[str, Any]], tools: Any, template_kwargs: dict[str, Any]) -> list[int]:
        return list(self.enc.render_conversation_for_training(self.conversation(messages, tools, template_kwargs)))

    def parse_completion(self, ids: Sequence[int]) -> dict[str, Any]:
        """Harmony's parse of an assistant completion, reduced to content/reasoning/tool calls."""
        import openai_harmony as h

        parsed = self.enc.parse_messages_from_completion_tokens(list(ids), h.Role.ASSISTANT)
        out: dict[str, Any] = {"content": "", "reasoning_content": "", "tool_calls": []}
        for msg in parsed:
            text = "".join(getattr(c, "text", "") for c in msg.content)
            if msg.recipient and msg.recipient.startswith("functions."):
                args: Any
                try:
                    args = tool_arguments_value(text, where="harmony tool call")
                except Exception:  # noqa: BLE001 - a parse that is not JSON is recorded as its text
                    args = text
                out["tool_calls"].append({"name": msg.recipient.removeprefix("functions."), "arguments": args})
            elif msg.channel == "final":
                out["content"] += text
            else:
                out["reasoning_content"] += text
        return out

    def decode_pieces(self, ids: Sequence[int]) -> list[list[Any]]:
        return [[i, self.enc.decode([i])] for i in ids]

    # ---- the golden record ---------------------------------------------------------------------
    def compare(self, template_ids: list[int], harmony_ids: list[int]) -> dict[str, Any]:
        if template_ids == harmony_ids:
            return {"agrees": True}
        k = first_divergence(template_ids, harmony_ids)
        lo = max(0, k - _WINDOW)
        return {
            "agrees": False,
            "first_divergence": k,
            "template": self.decode_pieces(template_ids[lo : k + _WINDOW]),
            "harmony": self.decode_pieces(harmony_ids[lo : k + _WINDOW]),
            "harmony_text": self.enc.decode(harmony_ids),
        }

    def record(
        self, golden: dict[str, Any], messages: list[dict[str, Any]], tools: Any, template_kwargs: dict[str, Any], last: int | None
    ) -> dict[str, Any]:
        """The ``second_oracle`` field of one golden (see fixtures/golden/README.md)."""
        rec: dict[str, Any] = {"name": NAME}
        prompt_msgs = messages[:last] if last is not None else messages
        rec["prompt"] = self._side(golden.get("prompt", {}), lambda: self.prompt_ids(prompt_msgs, tools, template_kwargs))
        if last is None:
            rec["full"] = {"error": "case does not end with an assistant message"}
        else:
            rec["full"] = self._side(golden.get("full", {}), lambda: self.full_ids(messages, tools, template_kwargs))
        comp = golden.get("completion", {})
        if comp.get("error") or comp.get("expected") is None:
            rec["completion"] = {"error": comp.get("error") or comp.get("expected_error") or "no expected parse"}
        else:
            try:
                got = self.parse_completion([i for i, _ in comp["tokens"]])
            except Exception as e:  # noqa: BLE001 - harmony's refusal is the recorded fact
                rec["completion"] = {"error": f"harmony cannot parse the template's completion: {type(e).__name__}: {e}"}
            else:
                rec["completion"] = {"agrees": True} if got == comp["expected"] else {"agrees": False, "harmony": got}
        return rec

    def _side(self, golden_side: dict[str, Any], render: Any) -> dict[str, Any]:
        try:
            ids = render()
        except Exception as e:  # noqa: BLE001 - harmony's refusal is the recorded fact
            return {"error": f"harmony cannot render it: {type(e).__name__}: {e}"}
        if golden_side.get("error"):
            return {"template_error": True, "harmony_text": self.enc.decode(ids)}
        return self.compare([i for i, _ in golden_side["tokens"]], ids)
