"""``TemplateRenderer``: the model's own HF chat template behind our protocol.

Parity with the template holds by construction (it *is* the template, with content encoded as
text). It is the fallback for any registered model and the base the suite's own tests break on
purpose. It has no bridge and claims no extension property: a Jinja template re-renders history.
Pickles by reference (model id + variant), so a worker rebuilds it from the vendored snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.message_spans import attribution_runs
from conformance.messages import validate_messages
from conformance.protocol import Capabilities, ParsedResponse, RenderedTokens, SupervisedExample
from reference_renderers.base import supervised_example
from reference_renderers.parsers import parse_with

__all__ = ["TemplateRenderer"]


class TemplateRenderer:
    has_extension_property = False

    def __init__(self, tokenizer: Any = None, *, model_id: str, variant: str | None = None):
        from conformance.oracle import Oracle
        from conformance.registry import get_model

        self.model_id = model_id
        self._entry = get_model(model_id)
        self.variant = variant or next(iter(self._entry.variants))
        self._variant = self._entry.variant(self.variant)
        self._oracle = Oracle(self._entry)
        self.tokenizer = self._oracle.tok
        self.capabilities = Capabilities(bridge=False)

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

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        return RenderedTokens(self._encode(messages, tools, add_generation_prompt))

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None) -> list[int]:
        ids = self._encode(messages, tools, True)
        if prefill:
            ids += self._oracle.text_encoder.encode(prefill, add_special_tokens=False).ids
        return ids

    def build_supervised_example(self, messages: Sequence[dict[str, Any]], *, tools: Any = None,
                                 train_on: str = "last_assistant_message") -> SupervisedExample:
        ids = self._encode(messages, tools, False)

        def runs() -> dict[int, tuple[int, int]] | str:
            found = attribution_runs(len(messages), ids, lambda k: self._encode(messages[:k], tools, False))
            return found if isinstance(found, str) else {m: (s, e) for m, s, e in found}

        return supervised_example(
            messages, ids, train_on, self.capabilities.train_on, lambda k: self._encode(messages[:k], tools, True), self.stop_token_ids(),
            message_runs=runs, render_full=lambda edited: self._encode(edited, tools, False), turn_end=self._entry.turn_end,
        )

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse:
        return parse_with(self._entry.family, self.tokenizer, ids, self.stop_token_ids())

    def stop_token_ids(self) -> list[int]:
        return list(self._oracle.stop_ids)

    def bridge_to_next_turn(self, prev_prompt: Sequence[int], prev_completion: Sequence[int],
                            new_messages: Sequence[dict[str, Any]], *, tools: Any = None) -> list[int] | None:
        return None


def _rebuild(model_id: str, variant: str) -> TemplateRenderer:
    return TemplateRenderer(model_id=model_id, variant=variant)
