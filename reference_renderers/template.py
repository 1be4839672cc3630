"""``TemplateRenderer``: the model's own HF chat template behind our protocol.

Parity with the template holds by construction (it *is* the template, with content encoded as
text). It is the fallback for any registered model and the base the suite's own tests break on
purpose. It has no bridge and claims no extension property: a Jinja template re-renders history.
Pickles by reference (model id + variant), so a worker rebuilds it from the vendored snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.messages import validate_messages
from conformance.oracle.message_spans import attribution_runs, message_bodies
from conformance.protocol import (
    TRAIN_ON_TURNS,
    Capabilities,
    ParsedResponse,
    RenderedTokens,
    ResponseDelta,
    SupervisedExample,
    chosen_turns,
)
from reference_renderers.openai_message import to_openai
from reference_renderers.parsers import family_parser, parse_with
from reference_renderers.streaming import stream_parse
from reference_renderers.tool_prefix import declared_tools, prefix_with_tools

__all__ = ["TemplateRenderer"]


class TemplateRenderer:
    has_extension_property = False

    def __init__(self, tokenizer: Any = None, *, model_id: str, variant: str | None = None):
        from conformance.fixtures.registry import get_model
        from conformance.oracle import Oracle

        self.model_id = model_id
        self._entry = get_model(model_id)
        self.variant = variant or next(iter(self._entry.variants))
        self._variant = self._entry.variant(self.variant)
        self._oracle = Oracle(self._entry)
        self.tokenizer = self._oracle.tok
        self.capabilities = Capabilities(bridge=False, streaming=True, openai_message=True, supervised_examples=TRAIN_ON_TURNS,
                                         prompt_roles=("user",), tool_prefix=True)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.model_id, self.variant))

    def __repr__(self) -> str:
        return f"TemplateRenderer(model_id={self.model_id!r}, variant={self.variant!r})"

    def _encode(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> list[int]:
        from conformance.oracle import TemplateRenderError

        validate_messages(messages)
        try:
            return self._oracle.encode(list(messages), tools, self._variant, add_generation_prompt=agp).ids
        except TemplateRenderError as e:
            raise InvalidMessagesError(f"the {self.model_id} template cannot render these messages: {e}") from e

    def create_conversation_prefix_with_tools(self, tools: Sequence[dict[str, Any]], system_prompt: str = "") -> list[dict[str, Any]]:
        return prefix_with_tools(tools, system_prompt)

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        messages, tools, _ = declared_tools(messages, tools)
        return RenderedTokens(self._encode(messages, tools, add_generation_prompt))

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None,
                                role: str = "assistant") -> list[int]:
        messages, tools, _ = declared_tools(messages, tools)
        if role == "assistant":
            ids = self._encode(messages, tools, True)
        elif role in self.capabilities.prompt_roles:
            from conformance.oracle import TemplateRenderError

            validate_messages(messages)
            try:
                ids = self._oracle.open_turn(list(messages), tools, self._variant, role).ids
            except TemplateRenderError as e:
                raise InvalidMessagesError(f"message {len(messages)}: the {self.model_id} template opens no {role} turn here: {e}") from e
        else:
            raise ValueError(f"role must be assistant or one of {', '.join(self.capabilities.prompt_roles)}, not {role!r}")
        if prefill:
            ids += self._oracle.text_encoder.encode(prefill, add_special_tokens=False).ids
        return ids

    def build_supervised_example(self, messages: Sequence[dict[str, Any]], *, tools: Any = None,
                                 train_on: str = "last_assistant_message") -> SupervisedExample:
        """The oracle's own rule (this renderer *is* the template): :mod:`conformance.oracle.turn_spans`."""
        if train_on not in self.capabilities.train_on:
            raise ValueError(f"train_on must be one of {', '.join(self.capabilities.train_on)}, not {train_on!r}")
        messages, tools, _ = declared_tools(messages, tools)
        spans, ids = self._turn_spans(messages, tools)
        if train_on == "all_tokens":
            return SupervisedExample(ids, [1.0] * len(ids))
        weights = [0.0] * len(ids)
        for start, end in self._spans(spans, messages, tools, train_on):
            weights[start:end] = [1.0] * (end - start)
        return SupervisedExample(ids, weights)

    def build_supervised_examples(self, messages: Sequence[dict[str, Any]], *, tools: Any = None,
                                  train_on: str = "all_assistant_messages") -> list[SupervisedExample]:
        messages, tools, _ = declared_tools(messages, tools)
        spans, _ = self._turn_spans(messages, tools)
        out = []
        for k in self._turns(messages, train_on):
            ex = spans.sampled_example(k)
            if ex.get("error"):
                raise InvalidMessagesError(ex["error"])
            prompt = self._encode(messages[:k], tools, True)
            sampled = [t[0] for t in ex["completion"]]
            out.append(SupervisedExample(prompt + sampled, [0.0] * len(prompt) + [1.0] * len(sampled)))
        return out

    def _turn_spans(self, messages: Sequence[dict[str, Any]], tools: Any) -> tuple[Any, list[int]]:
        from conformance.fixtures.cases import Case
        from conformance.oracle.turn_end import final_closing_id
        from conformance.oracle.turn_spans import TurnSpans

        ids = self._encode(messages, tools, False)
        tail: list[int] = []
        if self._entry.turn_end == "next_message" and messages and messages[-1]["role"] == "assistant":
            closing = final_closing_id(messages, ids, lambda p: self._encode(p, tools, False), self.stop_token_ids())
            if isinstance(closing, str):
                raise InvalidMessagesError(f"message {len(messages) - 1}: the end of the final turn cannot be found: {closing}")
            tail = [closing]
        case = Case("renderer", "", tuple(messages), tuple(tools) if tools else None, (), "renderer", False)
        return TurnSpans(self._oracle, self._variant, case, ids, tail), ids + tail

    @staticmethod
    def _turns(messages: Sequence[dict[str, Any]], train_on: str) -> list[int]:
        return chosen_turns(messages, train_on)

    def _spans(self, spans: Any, messages: Sequence[dict[str, Any]], tools: Any, train_on: str) -> list[tuple[int, int]]:
        out = []
        for k in self._turns(messages, train_on):
            span = spans.span(k)
            if isinstance(span, str):
                raise InvalidMessagesError(span)
            out.append(span)
        if train_on == "all_messages":
            ids = spans.full
            found = attribution_runs(len(messages), ids, lambda k: self._encode(messages[:k], tools, False))
            runs = found if isinstance(found, str) else {m: (s, e) for m, s, e in found}
            bodies = message_bodies(messages, ids, runs, lambda edited: self._encode(edited, tools, False), self.stop_token_ids())
            if isinstance(bodies, str):
                raise InvalidMessagesError(f"all_messages cannot weigh these messages: {bodies}")
            out += bodies
        return out

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse:
        return parse_with(self._entry.family, self.tokenizer, ids, self.stop_token_ids())

    def parse_response_streaming(self, chunks: Iterable[Sequence[int]]) -> Iterator[ResponseDelta]:
        return stream_parse(family_parser(self._entry.family), self.tokenizer, chunks, self.stop_token_ids(), self.parse_response)

    def to_openai_message(self, ids: Sequence[int]) -> dict[str, Any]:
        return to_openai(family_parser(self._entry.family), self.tokenizer, ids, self.stop_token_ids(), self.parse_response(ids))

    def stop_token_ids(self) -> list[int]:
        return list(self._oracle.stop_ids)

    def bridge_to_next_turn(self, prev_prompt: Sequence[int], prev_completion: Sequence[int],
                            new_messages: Sequence[dict[str, Any]], *, tools: Any = None) -> list[int] | None:
        return None


def _rebuild(model_id: str, variant: str) -> TemplateRenderer:
    return TemplateRenderer(model_id=model_id, variant=variant)
