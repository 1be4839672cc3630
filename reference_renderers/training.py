"""Supervised examples of the hand-written renderers, found on their own renders.

Written apart from the oracle's rule (``conformance/oracle/turn_spans.py``, ``conformance/oracle/message_spans.py``),
which derives the goldens from prefix renders of the template: here every span comes from the
renderer's own message attribution (which token belongs to which message, known while rendering)
and its own probe renders, so a mistake in either shows up against the other in certification.

For assistant message ``k`` the trained tokens are:

* from the end of its generation prompt when that prompt is a prefix of the render (the turn is
  in history as it was sampled), else from the first token that changes with its content,
  reasoning or tool calls (scaffolding the template writes, such as an empty think block, weighs 0);
* through its end-of-turn token: the last closing token among its own tokens (a stop id, or a
  token that closes history turns, gpt-oss's ``<|end|>``), or, where the next message's marker
  closes a turn (GLM-5), that marker; the final turn's marker is appended to the example.

``all_messages`` adds each other message's body: from the first token its content changes through
the last closing token among its own tokens (never its role header). ``all_tokens`` weighs all.
An image's tokens (``<|vision_start|>`` through ``<|vision_end|>``) weigh 0 under every other
choice: no choice trains the model to predict pixels.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.images import placeholder_spans
from conformance.protocol import CUSTOMIZED, TRAIN_ON_TURNS, TRAINABLE, SupervisedExample, chosen_turns

__all__ = ["Training", "TRAIN_ON_TURNS"]

_PROBE = "\ue007"  # private use: in no real text


def _copy(value: Any) -> Any:
    """A copy of messages a probe may edit: dicts and lists copied, every other leaf (a string, a
    number, a PIL image) shared."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _image_spans(renderer: Any, ids: Sequence[int]) -> list[tuple[int, int]]:
    """``[start, end)`` of every image placeholder in ``ids`` (none where the tokenizer has no vision tokens)."""
    try:
        start, end = renderer._enc.id("<|vision_start|>"), renderer._enc.id("<|vision_end|>")
    except KeyError:
        return []
    return placeholder_spans(ids, start, end)


def _diverge(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


class Training:
    """The supervised example(s) of one conversation for one hand-written renderer."""

    def __init__(self, renderer: Any, messages: Sequence[dict[str, Any]], tools: Any):
        self.r = renderer
        self.msgs = [dict(m) for m in messages]
        self.tools = tools
        self.ids, owners = renderer._enc.encode_with_messages(renderer._pieces(self.msgs, tools, False))
        self.extent: dict[int, tuple[int, int]] = {}
        for t, m in enumerate(owners):
            if m >= 0:
                self.extent[m] = (self.extent.get(m, (t, t))[0], t + 1)
        # The template's own end-of-turn ids (not what the renderer tells a sampler: a list with
        # extra stops must not move what a turn is).
        self.stops = set(renderer._stop_ids)
        self.closers = self.stops | {renderer._enc.id(t) for t in renderer.entry.history_end_of_turn}
        self.by_next = renderer.entry.turn_end == "next_message"
        ends_with_answer = bool(self.msgs) and self.msgs[-1]["role"] == "assistant"
        self.tail = [renderer._closing_marker(self.msgs)] if self.by_next and ends_with_answer else []

    # ---- probes ----------------------------------------------------------------------------
    def _render(self, messages: list[dict[str, Any]]) -> list[int]:
        return list(self.r._enc.encode(self.r._pieces(messages, self.tools, False)))

    def _changed_from(self, k: int, edits: list[Callable[[dict[str, Any]], None]]) -> int:
        first = len(self.ids)
        for edit in edits:
            probe = _copy(self.msgs)
            edit(probe[k])
            first = min(first, _diverge(self.ids, self._render(probe)))
        return first

    def _own_start(self, k: int) -> int:
        m = self.msgs[k]
        edits: list[Callable[[dict[str, Any]], None]] = [lambda p: p.__setitem__("content", _PROBE)]
        if m.get("reasoning_content"):
            edits.append(lambda p: p.__setitem__("reasoning_content", _PROBE))
        for j, call in enumerate(m.get("tool_calls") or []):
            as_text = isinstance(call.get("function", call).get("arguments"), str)
            edits.append(lambda p, j=j, t=as_text: p["tool_calls"][j]["function"].__setitem__(
                "arguments", json.dumps({"probe": _PROBE}) if t else {"probe": _PROBE}))
        return self._changed_from(k, edits)

    # ---- spans -----------------------------------------------------------------------------
    def assistant_span(self, k: int) -> tuple[int, int]:
        prompt = self.r.build_generation_prompt(self.msgs[:k], tools=self.tools)
        if self.ids[: len(prompt)] == prompt:
            start = len(prompt)  # as sampled: an empty answer is its end-of-turn token alone
        else:
            start = self._own_start(k)
            if start >= len(self.ids):
                raise InvalidMessagesError(f"message {k}: nothing in the render changes with its content")
        if k == len(self.msgs) - 1:
            if self.tail:
                return start, len(self.ids) + 1
            own_end = len(self.ids)
        elif self.by_next:
            marker_at = self.extent.get(k + 1, (len(self.ids), len(self.ids)))[0]
            if marker_at >= len(self.ids) or self.ids[marker_at] not in self.stops:
                raise InvalidMessagesError(f"message {k}: no end-of-turn token closes it (message {k + 1} does not open with a "
                                           "marker a sampler stops on)")
            return start, marker_at + 1
        else:
            own_end = self.extent.get(k, (start, start))[1]
        closing = [j for j in range(start, own_end) if self.ids[j] in self.closers]
        if not closing:
            raise InvalidMessagesError(f"message {k}: no end-of-turn token closes it")
        return start, closing[-1] + 1

    def body_span(self, k: int) -> tuple[int, int]:
        if k not in self.extent:
            raise InvalidMessagesError(f"all_messages: message {k} adds no tokens of its own to the render")
        a, b = self.extent[k]
        start = self._changed_from(k, [lambda p: p.__setitem__("content", _PROBE)])
        if not a <= start < b:
            raise InvalidMessagesError(f"all_messages: message {k}'s content changes token {start}, outside its own tokens [{a}, {b})")
        closing = [j for j in range(start, b) if self.ids[j] in self.closers]
        return start, (closing[-1] + 1 if closing else b)

    def _turns(self, train_on: str) -> list[int]:
        return chosen_turns(self.msgs, train_on)

    # ---- examples --------------------------------------------------------------------------
    def example(self, train_on: str) -> SupervisedExample:
        ids = self.ids + self.tail
        if train_on == "all_tokens":
            return SupervisedExample(ids, [1.0] * len(ids))
        weights = [0.0] * len(ids)
        spans = [self.assistant_span(k) for k in self._turns(train_on)]
        if train_on == "all_messages":
            spans += [self.body_span(k) for k, m in enumerate(self.msgs) if m["role"] != "assistant"]
        elif train_on == CUSTOMIZED:
            unflagged = [k for k, m in enumerate(self.msgs) if TRAINABLE not in m]
            if unflagged:
                raise InvalidMessagesError(f"customized: message {unflagged[0]} has no {TRAINABLE!r} flag (every message needs "
                                           "True or False)")
            spans += [self.body_span(k) for k, m in enumerate(self.msgs) if m["role"] != "assistant" and m[TRAINABLE]]
        for start, end in spans:
            weights[start:end] = [1.0] * (end - start)
        for start, end in _image_spans(self.r, ids):
            weights[start:end] = [0.0] * (end - start)
        return SupervisedExample(ids, weights)

    def sampled_examples(self, train_on: str) -> list[SupervisedExample]:
        """One example per chosen assistant turn: its generation prompt (weight 0) and the tokens
        the model sampled for it (weight 1), the continuation of the prompt's text by the turn's."""
        out = []
        for k in self._turns(train_on):
            prompt = self.r.build_generation_prompt(self.msgs[:k], tools=self.tools)
            prompt_text = "".join(p[1] for p in self.r._pieces(self.msgs[:k], self.tools, True) if p[0] != "m")
            turn_text = "".join(p[1] for p in self.r._pieces(self.msgs[: k + 1], self.tools, False) if p[0] != "m")
            if not turn_text.startswith(prompt_text):
                raise InvalidMessagesError(f"message {k}: the template writes its generation prompt differently once the turn "
                                           "follows, so no sampled continuation of the prompt renders it")
            sampled = list(self.r._enc.encode([("s", turn_text[len(prompt_text):])]))
            if self.by_next:
                sampled.append(self.r._closing_marker(self.msgs[: k + 1]))
            else:
                end = next((j for j, t in enumerate(sampled) if t in self.stops), None)
                if end is None:
                    raise InvalidMessagesError(f"message {k}: no stop id ends its turn")
                sampled = sampled[: end + 1]
            out.append(SupervisedExample(prompt + sampled, [0.0] * len(prompt) + [1.0] * len(sampled)))
        return out
