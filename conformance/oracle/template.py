"""The oracle: a model's own HF chat template, run on the vendored snapshot, turned into goldens.

For one (model, variant, case) :func:`derive_golden` returns a JSON-ready dict with

* ``prompt``: the generation prompt (every message before the final assistant message, or all
  messages when the case does not end with one; ``add_generation_prompt=True``);
* ``full``: the whole conversation (``add_generation_prompt=False``), with per-token message
  attribution when every prefix render is a token prefix of the next;
* ``completion``: the ids the model samples for the final assistant message, through the
  end-of-turn token, and the message a parser must recover from them;
* ``weights``: token spans of ``full`` that a supervised example trains on, per train-on choice;
* ``dropped``: message fields the template silently does not render;
* ``injection``: special-token look-alikes found in user/system/tool text.

Special-token text inside content (the trap in DEVELOPERS.md): ``apply_chat_template(tokenize=True)``
turns a user's ``<|im_end|>`` into the special id. Our ids (``tokens``) encode content as text and
only the template's own structure as special ids; the template's ``literal_ids`` are kept beside
them when they differ. A template error is recorded, never dropped.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.fixtures.registry import ModelEntry, Variant
from conformance.fixtures.snapshots import Snapshot, load_text_encoder, load_tokenizer
from conformance.messages import tool_arguments_value

__all__ = ["GENERATOR_VERSION", "Oracle", "TemplateRenderError"]

# 2: second_oracle (openai-harmony) records; 3: last_assistant_turn, all_tokens weights; 4: all_messages;
# 5: turn_end "next_message" (completion closed by the next message's marker, supervised_tail), every
#    registry convention pinned in the manifest
# 6: weights of turns the template renders differently in history than when sampled are their own
#    tokens (turn_spans), a history turn ends at its own closing token (history_end_of_turn),
#    sampled_examples per assistant turn, tool arguments as the case writes them where the template
#    renders a JSON text (tool_arguments = "as_written"), a call whose name the template drops stays
#    a call (dropped "tool_calls[j].name", expected name null)
GENERATOR_VERSION = "6"
_SENTINEL_OPEN, _SENTINEL_CLOSE = "\ue000", "\ue001"  # private use: never in real text
_CONTENT_ROLES = ("system", "user", "tool")
_TURN_PROBE = "\ue008"  # the content of the turn open_turn opens: private use, encoded apart from any header


class TemplateRenderError(Exception):
    """The chat template raised; the message is the template's own error text."""


@dataclass
class Encoded:
    text: str
    ids: list[int]
    literal_ids: list[int]
    injected: list[dict[str, Any]]
    safe_note: str | None = None


class Oracle:
    """Renders cases through one model's HF template with the registry's pins and conventions."""

    def __init__(self, entry: ModelEntry, snapshot: Snapshot | None = None):
        self.entry = entry
        self.snapshot = snapshot or entry.snapshot()
        self.tok = load_tokenizer(self.snapshot)
        self.text_encoder = load_text_encoder(self.snapshot)
        added = {t.content for t in self.tok.added_tokens_decoder.values()}
        # Longest first, so "<|im_start|>" wins over a shorter token that is its prefix.
        self.added_tokens = sorted(added, key=len, reverse=True)
        # Alternation tries left to right, so longest-first gives leftmost-longest matching, the
        # way the tokenizer's added vocabulary splits text.
        self._added_re = re.compile("|".join(re.escape(t) for t in self.added_tokens))
        self.stop_ids = [self._token_id(t) for t in entry.end_of_turn]
        self._pieces: dict[int, str] = {}

    # ---- conventions -------------------------------------------------------------------
    def _token_id(self, text: str) -> int:
        tid = self.tok.convert_tokens_to_ids(text)
        if tid is None or tid == self.tok.unk_token_id:
            raise ValueError(f"{self.entry.model_id}: end_of_turn token {text!r} is not in the vocabulary")
        return int(tid)

    def template_messages(self, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """OpenAI-style messages -> what this template expects (registry conventions)."""
        out = []
        for i, m in enumerate(json.loads(json.dumps(list(messages)))):
            if "reasoning_content" in m and self.entry.reasoning_field != "reasoning_content":
                rc = m.pop("reasoning_content")
                if self.entry.reasoning_field:
                    m[self.entry.reasoning_field] = rc
            if m.get("tool_calls"):
                for j, call in enumerate(m["tool_calls"]):
                    fn = call["function"]
                    value = tool_arguments_value(fn["arguments"], where=f"message {i} tool_calls[{j}]")
                    if self.entry.tool_arguments == "object":
                        fn["arguments"] = value
                    elif self.entry.tool_arguments == "string" and not isinstance(fn["arguments"], str):
                        fn["arguments"] = json.dumps(value, ensure_ascii=False)
                    # "as_written": the template renders a JSON text verbatim and an object itself
                if self.entry.tool_call_content == "none" and not m.get("content"):
                    m["content"] = None
            out.append(m)
        return out

    def _tools(self, tools: Any) -> Any:
        """The tools as upstream hands them to the template: Kimi's tokenizer code (remote code the
        snapshots do not ship) sorts every dict's keys, recursively, before anything else."""
        if tools and self.entry.tool_declaration in ("sorted_json", "typescript"):
            from conformance.tool_declarations import deep_sorted

            return deep_sorted(list(tools))
        return tools

    def _kwargs(self, variant: Variant, tools: Any = None) -> dict[str, Any]:
        kwargs = dict(variant.template_kwargs)
        if tools and self.entry.tool_declaration == "typescript":
            # What upstream's tokenizer code does before rendering (Kimi K2.5/K2.6); None falls
            # back to the template's JSON declaration, as upstream does when the encoding fails.
            from conformance.tool_declarations import tools_ts_str

            ts = tools_ts_str(tools)
            if ts is not None:
                kwargs["tools_ts_str"] = ts
        return kwargs

    @contextlib.contextmanager
    def _pinned_clock(self) -> Iterator[None]:
        """Make the template's ``strftime_now`` read the registry's pinned date.

        transformers replaces callables passed as template kwargs with inert placeholders, so the
        pin is applied where its ``strftime_now`` looks the time up: the module's ``datetime``.
        """
        from transformers.utils import chat_template_utils as ctu

        pinned = _dt.datetime.fromisoformat(self.entry.pinned_date)

        class _PinnedDatetime(_dt.datetime):
            @classmethod
            def now(cls, tz: Any = None) -> _dt.datetime:  # type: ignore[override]
                return pinned

        real = ctu.datetime
        ctu.datetime = _PinnedDatetime  # type: ignore[misc]
        try:
            yield
        finally:
            ctu.datetime = real  # type: ignore[misc]

    # ---- rendering -------------------------------------------------------------------------
    def render_text(self, messages: Sequence[dict[str, Any]], tools: Any, variant: Variant, *, add_generation_prompt: bool) -> str:
        try:
            with self._pinned_clock():
                return self.tok.apply_chat_template(
                    self.template_messages(messages),
                    tools=self._tools(tools),
                    add_generation_prompt=add_generation_prompt,
                    tokenize=False,
                    **self._kwargs(variant, tools),
                )
        except Exception as e:  # noqa: BLE001 - any template failure is a recorded fact
            raise TemplateRenderError(f"{type(e).__name__}: {e}") from e

    def _literal_ids(self, messages: Sequence[dict[str, Any]], tools: Any, variant: Variant, agp: bool) -> list[int]:
        with self._pinned_clock():
            out = self.tok.apply_chat_template(
                self.template_messages(messages), tools=self._tools(tools), add_generation_prompt=agp, tokenize=True,
                **self._kwargs(variant, tools),
            )
        if hasattr(out, "keys") and "input_ids" in out:
            out = out["input_ids"]
        return [int(i) for i in out]

    def _sentinelize(self, messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
        """Replace added-token look-alikes in user/system/tool content by private-use sentinels."""
        table: list[str] = []
        found: list[dict[str, Any]] = []
        out = json.loads(json.dumps(list(messages)))
        for i, m in enumerate(out):
            if m.get("role") not in _CONTENT_ROLES or not isinstance(m.get("content"), str):
                continue
            def replace(match: re.Match[str], i: int = i, role: str = m["role"]) -> str:
                found.append({"message": i, "role": role, "text": match.group(0)})
                table.append(match.group(0))
                return f"{_SENTINEL_OPEN}{len(table) - 1}{_SENTINEL_CLOSE}"

            m["content"] = self._added_re.sub(replace, m["content"])
        return out, table, found

    def _restore(self, text: str, table: list[str]) -> str:
        for k, tok_text in enumerate(table):
            text = text.replace(f"{_SENTINEL_OPEN}{k}{_SENTINEL_CLOSE}", tok_text)
        return text

    def _encode_structure_and_text(self, text: str, table: list[str]) -> list[int]:
        """Added tokens still present in ``text`` are structure (ids); everything else is text."""
        ids: list[int] = []
        pos = 0
        for match in self._added_re.finditer(text):
            if match.start() > pos:
                chunk = self._restore(text[pos : match.start()], table)
                ids.extend(self.text_encoder.encode(chunk, add_special_tokens=False).ids)
            ids.append(int(self.tok.convert_tokens_to_ids(match.group(0))))
            pos = match.end()
        if pos < len(text):
            ids.extend(self.text_encoder.encode(self._restore(text[pos:], table), add_special_tokens=False).ids)
        return ids

    def encode(self, messages: Sequence[dict[str, Any]], tools: Any, variant: Variant, *, add_generation_prompt: bool,
               cross_check: bool = True) -> Encoded:
        """Render and encode; raises TemplateRenderError when the template raises.

        ``cross_check`` (goldens) also runs ``apply_chat_template(tokenize=True)`` and proves our
        structure/text encoding equal to it where content has no look-alikes. Live checks of
        generated cases turn it off: half the cost, the same safe ids (the goldens prove the
        encoder on every corpus case), and ``literal_ids`` then equal the safe ids."""
        text = self.render_text(messages, tools, variant, add_generation_prompt=add_generation_prompt)
        if not cross_check:
            sent_msgs, table, found = self._sentinelize(messages)
            if not table:
                ids = self._encode_structure_and_text(text, [])
                return Encoded(text, ids, ids, [])
            sent_text = self.render_text(sent_msgs, tools, variant, add_generation_prompt=add_generation_prompt)
            safe = self._encode_structure_and_text(sent_text, table)
            return Encoded(self._restore(sent_text, table), safe, safe, found)
        literal = self._literal_ids(messages, tools, variant, add_generation_prompt)
        plain = list(self.tok.encode(text, add_special_tokens=False))
        if plain != literal:
            raise TemplateRenderError("apply_chat_template(tokenize=True) differs from encoding its own text")
        sent_msgs, table, found = self._sentinelize(messages)
        if not table:
            # Our structure/text encoder must agree with the tokenizer wherever content has no
            # look-alikes; if it ever does not, the safe ids of injection cases are suspect too.
            if self._encode_structure_and_text(text, []) != literal:
                raise TemplateRenderError("internal: structure/text encoding disagrees with the tokenizer")
            return Encoded(text, literal, literal, [])
        sent_text = self.render_text(sent_msgs, tools, variant, add_generation_prompt=add_generation_prompt)
        note = None
        if self._restore(sent_text, table) != text:
            note = "the template inspects content: with look-alikes kept as text it renders differently"
        safe = self._encode_structure_and_text(sent_text, table)
        return Encoded(self._restore(sent_text, table), safe, literal, found, note)

    def open_turn(self, messages: Sequence[dict[str, Any]], tools: Any, variant: Variant, role: str) -> Encoded:
        """The prompt that opens a turn of ``role`` after ``messages`` (a user simulator's prompt
        for ``user``): the template's render of the messages followed by a message of that role,
        up to where its content starts. Its ids are that render's own (earlier content encoded as
        text), cut where the rest of the text encodes alone; raises TemplateRenderError where the
        template cannot render such a message, or writes its content other than once verbatim, or
        where the header's last token and the content would share a token (no cut exists)."""
        enc = self.encode([*messages, {"role": role, "content": _TURN_PROBE}], tools, variant, add_generation_prompt=False)
        if enc.text.count(_TURN_PROBE) != 1:
            raise TemplateRenderError(f"the template does not write a new {role} message's content once, verbatim")
        at = enc.text.index(_TURN_PROBE)
        rest = self.encode_text(enc.text[at:])
        cut = len(enc.ids) - len(rest)
        # The prompt's last token must end where the content starts (decoding the whole prefix would
        # not do: a tokenizer that normalizes text, NFC for Qwen, decodes history differently).
        last = self.tok.decode(enc.ids[cut - 1 : cut], skip_special_tokens=False) if cut > 0 else None
        if enc.ids[cut:] != rest or last is None or not enc.text[:at].endswith(last):
            raise TemplateRenderError(f"the {role} turn's header and its content share a token: no prompt ends where the content starts")
        # apply_chat_template(tokenize=True) makes look-alikes special ids: its cut is as far from the end.
        lcut = len(enc.literal_ids) - len(rest)
        literal = enc.literal_ids[:lcut] if enc.literal_ids[lcut:] == rest else enc.ids[:cut]
        return Encoded(enc.text[:at], enc.ids[:cut], literal, enc.injected, enc.safe_note)

    def encode_text(self, text: str) -> list[int]:
        """Rendered text to ids: added tokens in it are structure (their ids), the rest is text."""
        return self._encode_structure_and_text(text, [])

    def piece(self, i: int) -> str:
        try:
            return self._pieces[i]
        except KeyError:
            p = self._pieces[i] = self.tok.decode([i], skip_special_tokens=False)
            return p

    def pieces(self, ids: Sequence[int]) -> list[list[Any]]:
        return [[i, self.piece(i)] for i in ids]
