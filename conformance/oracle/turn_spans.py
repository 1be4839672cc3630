"""Where each assistant message's trained tokens lie in the template's full render: the oracle's
rule for the goldens' ``weights``, and the per-turn examples a model samples (``sampled_examples``).

For assistant message ``k`` of a full render ``full``:

* **start**: where the model's sampling of it starts, the end of its generation prompt, when that
  prompt is a token prefix of ``full`` (the turn is in history as it was sampled). Otherwise (the
  template renders the turn differently in history than when sampling it: Qwen3.6's ``<think>\\n``
  prompt against ``<think>\\n\\n</think>`` in history, a dropped think block) at the message's own
  first token: the first token that changes when its content, its reasoning or a tool call's
  arguments change. Template scaffolding before that (an empty think block the template writes)
  weighs 0.
* **end**: its end-of-turn token, the *last* closing token (a stop id, or a token the template
  closes history turns with: registry ``history_end_of_turn``, gpt-oss's ``<|end|>``) before the
  next message's content starts, so a gpt-oss turn ends at its own ``<|end|>`` and never runs on
  into the following user turn. The final message ends at the last closing token of the render,
  or, where the next message's marker closes a turn (registry ``turn_end = "next_message"``, GLM-5),
  at the marker appended as the supervised tail (:mod:`conformance.oracle.turn_end`).

Anything that cannot be proven (a probe the template refuses, no closing token where one must be)
is a reason string, never a guessed span. The reference renderers implement the same rule on their
own (``reference_renderers/training.py``); nothing there imports this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from conformance.fixtures.cases import Case
from conformance.fixtures.registry import Variant
from conformance.oracle import Oracle, TemplateRenderError
from conformance.oracle.message_spans import first_divergence

__all__ = ["TurnSpans", "PROBE_TEXT"]

PROBE_TEXT = "\ue006"  # private use: in no real text (\ue000-\ue005 are the oracle's and the suite's)




class TurnSpans:
    """The spans of one case's assistant messages in its full render, for one variant."""

    def __init__(self, oracle: Oracle, variant: Variant, case: Case, full_ids: list[int], tail: list[int]):
        self.oracle, self.variant, self.case = oracle, variant, case
        self.msgs = case.messages_list()
        self.tools = case.tools_list()
        self.full = full_ids
        self.tail = tail  # the closing marker appended after a final turn (GLM), else []
        entry = oracle.entry
        self.stops = set(oracle.stop_ids)
        self.closers = self.stops | {int(oracle.tok.convert_tokens_to_ids(t)) for t in entry.history_end_of_turn}

    def _ids(self, messages: list[dict[str, Any]], agp: bool) -> list[int]:
        return self.oracle.encode(messages, self.tools, self.variant, add_generation_prompt=agp, cross_check=False).ids

    def _probed(self, k: int, edit: Any) -> list[int] | str:
        probe = json.loads(json.dumps(self.msgs))
        edit(probe[k])
        try:
            return self._ids(probe, False)
        except TemplateRenderError as e:
            return f"message {k} cannot be rendered with a probe in it: {e}"

    def prompt(self, k: int) -> list[int] | str:
        try:
            return self._ids(self.msgs[:k], True)
        except TemplateRenderError as e:
            return f"generation prompt before message {k}: {e}"

    def own_start(self, k: int) -> int | str:
        """The first token of ``full`` that changes with message ``k``'s content, reasoning or a
        tool call's arguments."""
        m = self.msgs[k]
        # Each field replaced by the probe: the render changes from where that field starts.
        edits: list[Any] = [lambda p: p.__setitem__("content", PROBE_TEXT)]
        if m.get("reasoning_content"):
            edits.append(lambda p: p.__setitem__("reasoning_content", PROBE_TEXT))
        for j in range(len(m.get("tool_calls") or [])):
            edits.append(lambda p, j=j: _probe_arguments(p["tool_calls"][j]))
        found = []
        for edit in edits:
            other = self._probed(k, edit)
            if isinstance(other, str):
                return other
            found.append(first_divergence(self.full, other))
        start = min(found)
        if start >= len(self.full):
            return f"message {k}: nothing in the render changes with its content (the template drops it)"
        return start

    def content_start(self, k: int) -> int | str:
        """Where message ``k``'s content starts in ``full`` (the first token a probe in it changes)."""
        other = self._probed(k, lambda p: p.__setitem__("content", PROBE_TEXT))
        return other if isinstance(other, str) else first_divergence(self.full, other)

    def span(self, k: int) -> tuple[int, int] | str:
        """``[start, end)`` of assistant message ``k`` in the supervised example (``full`` + tail)."""
        prompt = self.prompt(k)
        if isinstance(prompt, str):
            return prompt
        if self.full[: len(prompt)] == prompt:
            start: int | str = len(prompt)
        else:
            start = self.own_start(k)
            if isinstance(start, str):
                return start
        assert isinstance(start, int)
        last = k == len(self.msgs) - 1
        if last:
            if self.tail:
                return (start, len(self.full) + len(self.tail))
            region_end = len(self.full)
        else:
            # The next message rendered after this one (a template may hoist a later system message
            # to the top: DeepSeek): its content bounds this turn's tokens.
            region_end = len(self.full)
            for j in range(k + 1, len(self.msgs)):
                nxt = self.content_start(j)
                if isinstance(nxt, str):
                    return nxt
                if start < nxt < len(self.full):  # (a message the template does not render changes nothing)
                    region_end = nxt
                    break
        closing = [j for j in range(start, region_end) if self.full[j] in self.closers]
        if not closing:
            until = "the end of the render" if last else f"message {k + 1} (token {region_end})"
            return (f"assistant message {k}: no end-of-turn token between its start (token {start}) and {until}: "
                    "no marker a sampler stops on closes it")
        return (start, closing[-1] + 1)

    def sampled_example(self, k: int) -> dict[str, Any]:
        """What the model sampled for message ``k``: its generation prompt (length and sha256 of its
        ids) and the completion, the continuation of the prompt's text by the turn's text encoded
        on its own, through the first stop id (GLM: the marker of the message that follows)."""
        prompt = self.prompt(k)
        if isinstance(prompt, str):
            return {"message": k, "error": prompt}
        try:
            text_prompt = self.oracle.render_text(self.msgs[:k], self.tools, self.variant, add_generation_prompt=True)
            text_turn = self.oracle.render_text(self.msgs[: k + 1], self.tools, self.variant, add_generation_prompt=False)
        except TemplateRenderError as e:
            return {"message": k, "error": f"message {k}: {e}"}
        if not text_turn.startswith(text_prompt):
            return {"message": k, "error": f"message {k}: the turn's render does not continue its generation prompt's text "
                                           "(the template writes the prompt differently when the turn follows)"}
        ids = self.oracle.encode_text(text_turn[len(text_prompt):])
        if self.oracle.entry.turn_end == "next_message":
            from conformance.oracle.turn_end import final_closing_id

            closing = final_closing_id(self.msgs[: k + 1], self._ids(self.msgs[: k + 1], False), lambda p: self._ids(p, False),
                                       self.oracle.stop_ids)
            if isinstance(closing, str):
                return {"message": k, "error": f"message {k}: {closing}"}
            completion = ids + [closing]
        else:
            end = next((j for j, t in enumerate(ids) if t in self.stops), None)
            if end is None:
                return {"message": k, "error": f"message {k}: no stop id ends the turn's continuation of its prompt"}
            completion = ids[: end + 1]
        return {"message": k, "error": None, "prompt": {"len": len(prompt), "sha256": ids_sha256(prompt)},
                "completion": self.oracle.pieces(completion)}


def ids_sha256(ids: Sequence[int]) -> str:
    """sha256 of ids written as comma-separated decimals (how goldens fingerprint long id lists)."""
    return hashlib.sha256(",".join(str(int(i)) for i in ids).encode("ascii")).hexdigest()


def _probe_arguments(call: dict[str, Any]) -> None:
    fn = call["function"]
    args = {"probe": PROBE_TEXT}
    fn["arguments"] = json.dumps(args, ensure_ascii=False) if isinstance(fn["arguments"], str) else args
