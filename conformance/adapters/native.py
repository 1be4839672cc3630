"""Our own protocol: a pass-through that normalizes return types."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from conformance.protocol import Capabilities, ParsedResponse, RenderedTokens, ResponseDelta, SupervisedExample

__all__ = ["NativeAdapter"]


def _ids(value: Any, call: str) -> list[int]:
    """Token ids as a list of ints, or a TypeError saying what ``call`` returned instead."""
    if isinstance(value, (list, tuple)) and all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        return [int(i) for i in value]
    try:  # numpy arrays, torch tensors and other int sequences
        if not isinstance(value, (str, bytes, dict)) and all(float(i).is_integer() for i in value):
            return [int(i) for i in value]
    except (TypeError, ValueError):
        pass
    text = repr(value)
    shown = f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
    raise TypeError(f"{call} returned {shown}: expected a list of int token ids")


class NativeAdapter:
    style = "native"
    detect_order = 0  # styles are tried in this order (a native renderer also has tinker's method names)

    @staticmethod
    def detects(obj: Any) -> bool:
        """Whether ``obj`` has this style's methods."""
        methods = ("render", "build_generation_prompt", "stop_token_ids", "parse_response")
        return all(callable(getattr(obj, n, None)) for n in methods) and hasattr(obj, "capabilities")

    def __init__(self, renderer: Any, *, tokenizer: Any = None):
        self.renderer = renderer
        self.capabilities: Capabilities = getattr(renderer, "capabilities", Capabilities())
        self.has_extension_property = bool(getattr(renderer, "has_extension_property", False))

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        out = self.renderer.render(messages, tools=tools, add_generation_prompt=add_generation_prompt)
        if isinstance(out, RenderedTokens):
            return RenderedTokens(_ids(out.ids, "render"), out.message_indices)
        return RenderedTokens(_ids(out, "render"))

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None,
                                role: str = "assistant") -> list[int]:
        # role= only where asked for: a renderer that claims no prompt_roles need not take it.
        extra = {} if role == "assistant" else {"role": role}
        return _ids(self.renderer.build_generation_prompt(messages, tools=tools, prefill=prefill, **extra), "build_generation_prompt")

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

    def parse_response_streaming(self, chunks: Iterable[Sequence[int]]) -> Iterator[ResponseDelta]:
        # Lazily, as the renderer yields: a consumer displays each delta when it comes.
        for delta in self.renderer.parse_response_streaming(list(c) for c in chunks):
            if not isinstance(delta, ResponseDelta):
                raise TypeError(f"parse_response_streaming yielded {type(delta).__name__} {delta!r:.60}: expected a ResponseDelta")
            yield delta

    def create_conversation_prefix_with_tools(self, tools: Sequence[dict[str, Any]], system_prompt: str = "") -> list[dict[str, Any]]:
        out = self.renderer.create_conversation_prefix_with_tools(tools, system_prompt)
        if not isinstance(out, list) or not all(isinstance(m, dict) for m in out):
            raise TypeError(f"create_conversation_prefix_with_tools returned {out!r:.80}: expected a list of messages (dicts)")
        return out

    def to_openai_message(self, ids: Sequence[int]) -> dict[str, Any]:
        out = self.renderer.to_openai_message(list(ids))
        if not isinstance(out, dict):
            raise TypeError(f"to_openai_message returned {type(out).__name__} {out!r:.60}: expected a dict (an OpenAI message)")
        return out

    def stop_token_ids(self) -> list[int]:
        return _ids(self.renderer.stop_token_ids(), "stop_token_ids")

    def bridge_to_next_turn(
        self, prev_prompt: Sequence[int], prev_completion: Sequence[int], new_messages: Sequence[dict[str, Any]], *, tools: Any = None
    ) -> list[int] | None:
        out = self.renderer.bridge_to_next_turn(list(prev_prompt), list(prev_completion), new_messages, tools=tools)
        return None if out is None else _ids(out, "bridge_to_next_turn")
