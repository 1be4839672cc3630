"""tinker-cookbook style: ``build_generation_prompt(messages, role, prefill)`` -> ModelInput,
``build_supervised_example(messages, train_on_what)`` -> (ModelInput, weights),
``parse_response(ids)`` -> (message, ParseTermination), ``get_stop_sequences()``,
``has_extension_property``.

There is no plain full render: ``render(add_generation_prompt=False)`` is the supervised example's
tokens (declared tools included), which the extension and bridge checks use as the turn's render;
the capability ``full_render`` is not claimed, so no full-conversation parity check judges SFT
ids. Messages are converted to tinker's own form: reasoning becomes a ``thinking`` content part
before the text, tool calls become ``ToolCall`` objects with JSON-string arguments. Tools are
declared the way tinker-cookbook documents it: ``create_conversation_prefix_with_tools(tools,
system_prompt)`` replaces the leading system message; capability ``tools`` only where that works
for the renderer (tinker's Llama 3 raises ``NotImplementedError`` for it); the same prefix is
offered as ``create_conversation_prefix_with_tools`` (capability ``tool_prefix``), and tinker's
``role=`` as user-turn prompts (capability ``prompt_roles``) where its method takes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from conformance.protocol import (
    CUSTOMIZED,
    TRAIN_ON,
    Capabilities,
    ParsedResponse,
    RenderedTokens,
    ResponseDelta,
    SupervisedExample,
    Termination,
)

__all__ = ["TinkerAdapter"]

_TRAIN_ON = {
    "last_assistant_message": "LAST_ASSISTANT_MESSAGE",
    "last_assistant_turn": "LAST_ASSISTANT_TURN",
    "all_assistant_messages": "ALL_ASSISTANT_MESSAGES",
    "all_messages": "ALL_MESSAGES",
    "all_tokens": "ALL_TOKENS",
    CUSTOMIZED: "CUSTOMIZED",  # per-message flags: tinker reads the same key, ``trainable``, on every message
}


def _ints(x: Any, image_pad: int | None = None) -> list[int]:
    """A ``ModelInput``'s ids. An image is an ``ImageChunk`` of ``expected_tokens`` positions, which
    the model fills with the image's embeddings: the ids there are the processor's pads
    (``image_pad``), as many as tinker says the image takes."""
    chunks = getattr(x, "chunks", None)
    if chunks is not None and any(getattr(c, "type", None) == "image" for c in chunks):
        if image_pad is None:
            raise TypeError("tinker returned an image chunk for a model without an image pad token")
        out: list[int] = []
        for c in chunks:
            out += [image_pad] * int(c.expected_tokens) if getattr(c, "type", None) == "image" else [int(i) for i in c.tokens]
        return out
    if hasattr(x, "to_ints"):
        x = x.to_ints()
    return [int(i) for i in x]


def _to_tinker(m: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI-style message in tinker-cookbook's form."""
    out: dict[str, Any] = {k: v for k, v in m.items() if k not in ("reasoning_content", "tool_calls")}
    if m.get("reasoning_content"):
        out["content"] = [{"type": "thinking", "thinking": m["reasoning_content"]}, {"type": "text", "text": m.get("content") or ""}]
    if m.get("tool_calls"):
        from tinker_cookbook.renderers import ToolCall

        calls = []
        for c in m["tool_calls"]:
            fn = c["function"]
            args = fn["arguments"] if isinstance(fn["arguments"], str) else json.dumps(fn["arguments"], ensure_ascii=False)
            calls.append(ToolCall(id=c.get("id"), function=ToolCall.FunctionBody(name=fn["name"], arguments=args)))
        out["tool_calls"] = calls
        if out.get("content") is None:
            out["content"] = ""
    return out


def to_tinker_conversation(renderer: Any, messages: Sequence[dict[str, Any]], tools: Any) -> list[Any]:
    """The conversation in tinker's form, tools declared as tinker-cookbook documents it
    (a finding's reproduction script runs this function's own source, so it names no constant of
    this module: ``"trainable"`` is :data:`conformance.protocol.TRAINABLE`)."""
    out = [_to_tinker(m) for m in messages]
    if tools:
        system, flag = "", None
        if any("trainable" in m for m in out):
            flag = False  # without a system message the prefix stands for none of the conversation's: never trained
        if out and out[0]["role"] == "system":
            first = out.pop(0)
            system, flag = first["content"], first.get("trainable", flag)
        prefix = list(renderer.create_conversation_prefix_with_tools([t.get("function", t) for t in tools], system))
        if flag is not None:  # per-message flags: the prefix carries the system message's flag
            prefix = [{**m, "trainable": flag} for m in prefix]
        out = prefix + out
    return out


def _termination(term: Any) -> Termination:
    name = getattr(term, "name", str(term)).upper()
    return {"STOP_SEQUENCE": Termination.STOP_SEQUENCE, "EOS": Termination.EOS}.get(name, Termination.MALFORMED)


def _parsed(msg: dict[str, Any], termination: Termination) -> ParsedResponse:
    """A tinker ``Message`` as our parse: thinking parts are the reasoning, text parts the content,
    tool-call arguments JSON values."""
    content = msg.get("content", "")
    reasoning = ""
    if isinstance(content, list):  # content parts
        reasoning = "".join(p.get("thinking", "") for p in content if p.get("type") == "thinking")
        content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
    calls = []
    for c in msg.get("tool_calls") or []:
        fn = getattr(c, "function", None) or (c.get("function") if isinstance(c, dict) else c)
        name_ = getattr(fn, "name", None) or (fn.get("name") if isinstance(fn, dict) else None)
        args = getattr(fn, "arguments", None) if not isinstance(fn, dict) else fn.get("arguments")
        calls.append({"name": name_, "arguments": json.loads(args) if isinstance(args, str) else args})
    return ParsedResponse(content or "", reasoning or msg.get("reasoning_content", "") or "", calls, termination)


class TinkerAdapter:
    style = "tinker"
    detect_order = 2  # styles are tried in this order (a native renderer also has tinker's method names)

    @staticmethod
    def detects(obj: Any) -> bool:
        """Whether ``obj`` has this style's methods."""
        return all(callable(getattr(obj, n, None)) for n in ("build_generation_prompt", "build_supervised_example", "get_stop_sequences"))

    def __init__(self, renderer: Any, *, tokenizer: Any = None):
        self.renderer = renderer
        self.tokenizer = tokenizer
        self.has_extension_property = bool(getattr(renderer, "has_extension_property", False))
        declares = self._declares_tools()  # tools go through its prefix: both capabilities or neither
        # Images where tinker's renderer was given an image processor (the factory does so for a
        # model the registry gives one); their positions are the tokenizer's image pad.
        images = getattr(renderer, "image_processor", None) is not None and tokenizer is not None
        self._pad = int(tokenizer.convert_tokens_to_ids("<|image_pad|>")) if images else None
        self.capabilities = Capabilities(tools=declares, bridge=False, full_render=False,
                                         streaming=bool(getattr(renderer, "supports_streaming", False)),
                                         openai_message=callable(getattr(renderer, "to_openai_message", None)),
                                         prompt_roles=("user",) if self._takes_role() else (),
                                         tool_prefix=declares, images=images,
                                         train_on=TRAIN_ON + ((CUSTOMIZED,) if self._has_customized() else ()))

    def _takes_role(self) -> bool:
        """Whether tinker's ``build_generation_prompt`` takes ``role=`` (the turn it opens)."""
        import inspect

        try:
            return "role" in inspect.signature(self.renderer.build_generation_prompt).parameters
        except (TypeError, ValueError):
            return False

    @staticmethod
    def _has_customized() -> bool:
        from tinker_cookbook.renderers import TrainOnWhat

        return hasattr(TrainOnWhat, _TRAIN_ON[CUSTOMIZED])

    def _declares_tools(self) -> bool:
        declare = getattr(self.renderer, "create_conversation_prefix_with_tools", None)
        if not callable(declare):
            return False
        probe = {"name": "probe", "description": "d", "parameters": {"type": "object", "properties": {}}}
        try:
            declare([probe], "")
        except NotImplementedError:  # the library's own "this renderer has no tool support"
            return False
        return True

    def _messages(self, messages: Sequence[dict[str, Any]], tools: Any) -> list[Any]:
        return to_tinker_conversation(self.renderer, messages, tools)

    def _train_on(self, choice: str) -> Any:
        from tinker_cookbook.renderers import TrainOnWhat

        return getattr(TrainOnWhat, _TRAIN_ON[choice])

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        if add_generation_prompt:
            return RenderedTokens(self.build_generation_prompt(messages, tools=tools))
        return RenderedTokens(self.build_supervised_example(messages, tools=tools, train_on="all_assistant_messages").ids)

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None,
                                role: str = "assistant") -> list[int]:
        return _ints(self.renderer.build_generation_prompt(self._messages(messages, tools), role=role, prefill=prefill), self._pad)

    def create_conversation_prefix_with_tools(self, tools: Sequence[dict[str, Any]], system_prompt: str = "") -> list[dict[str, Any]]:
        """tinker's own prefix (its messages, passed back to it unchanged by every method)."""
        return list(self.renderer.create_conversation_prefix_with_tools([t.get("function", t) for t in tools], system_prompt))

    def build_supervised_example(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "last_assistant_message"
    ) -> SupervisedExample:
        model_input, weights = self.renderer.build_supervised_example(self._messages(messages, tools), self._train_on(train_on))
        w = weights.tolist() if hasattr(weights, "tolist") else list(weights)
        return SupervisedExample(_ints(model_input, self._pad), [float(x) for x in w])

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse:
        try:
            msg, term = self.renderer.parse_response(list(ids))
        except Exception:  # noqa: BLE001
            return ParsedResponse(termination=Termination.MALFORMED)
        return _parsed(msg, _termination(term))

    def parse_response_streaming(self, chunks: Iterable[Sequence[int]]) -> Iterator[ResponseDelta]:
        """tinker's ``parse_response_streaming(ids)`` takes the whole id list (it feeds them to its
        streaming parser one at a time), so every chunking reaches it the same way. Its text and
        thinking deltas are ours; its closing ``Message`` gives the tool calls; it reports no
        termination, so the stream ends with that of tinker's own ``parse_response``."""
        ids = [i for c in chunks for i in c]
        final: dict[str, Any] = {}
        for d in self.renderer.parse_response_streaming(ids):
            kind = type(d).__name__
            if kind == "StreamingTextDelta":
                yield ResponseDelta(content=d.text)
            elif kind == "StreamingThinkingDelta":
                yield ResponseDelta(reasoning_content=d.thinking)
            elif isinstance(d, dict):  # the closing Message
                final = d
        for call in _parsed(final, Termination.MALFORMED).tool_calls:
            yield ResponseDelta(tool_call=call)
        yield ResponseDelta(termination=self.parse_response(ids).termination)

    def to_openai_message(self, ids: Sequence[int]) -> dict[str, Any]:
        """tinker's ``to_openai_message`` of its own parse of the ids (its documented use: "can be
        passed into apply_chat_template")."""
        msg, _ = self.renderer.parse_response(list(ids))
        out: dict[str, Any] = self.renderer.to_openai_message(msg)
        return out

    def stop_token_ids(self) -> list[int]:
        out = []
        for s in self.renderer.get_stop_sequences():
            if isinstance(s, int):
                out.append(s)
            else:
                out += list(self.tokenizer.encode(s, add_special_tokens=False))
        return out

    def bridge_to_next_turn(self, *a: Any, **k: Any) -> list[int] | None:
        return None
