"""Our own protocol: a pass-through that normalizes return types."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.protocol import Capabilities, ParsedResponse, RenderedTokens, SupervisedExample

__all__ = ["NativeAdapter"]


class NativeAdapter:
    style = "native"

    def __init__(self, renderer: Any, *, tokenizer: Any = None):
        self.renderer = renderer
        self.capabilities: Capabilities = getattr(renderer, "capabilities", Capabilities())
        self.has_extension_property = bool(getattr(renderer, "has_extension_property", False))

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        out = self.renderer.render(messages, tools=tools, add_generation_prompt=add_generation_prompt)
        return out if isinstance(out, RenderedTokens) else RenderedTokens([int(i) for i in out])

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None) -> list[int]:
        return [int(i) for i in self.renderer.build_generation_prompt(messages, tools=tools, prefill=prefill)]

    def build_supervised_example(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "last_assistant_message"
    ) -> SupervisedExample:
        return self.renderer.build_supervised_example(messages, tools=tools, train_on=train_on)

    def build_supervised_examples(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "all_assistant_messages"
    ) -> list[SupervisedExample]:
        return list(self.renderer.build_supervised_examples(messages, tools=tools, train_on=train_on))

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse:
        return self.renderer.parse_response(list(ids))

    def stop_token_ids(self) -> list[int]:
        return [int(i) for i in self.renderer.stop_token_ids()]

    def bridge_to_next_turn(
        self, prev_prompt: Sequence[int], prev_completion: Sequence[int], new_messages: Sequence[dict[str, Any]], *, tools: Any = None
    ) -> list[int] | None:
        out = self.renderer.bridge_to_next_turn(list(prev_prompt), list(prev_completion), new_messages, tools=tools)
        return None if out is None else [int(i) for i in out]
