"""tml-renderers style (Thinking Machines' compiled renderers, tokenizer built in):
``render_for_completion(messages)`` -> (token spans, parser), ``render_for_sft(messages)`` ->
``[TrainingExample(input_token_spans, per_token_loss_weight_unshifted)]``, ``parser.parse_tokens``,
``stop()``.

Messages go in through ``chat.MessageList.from_oss_messages``, which silently drops
``reasoning_content``: reasoning becomes a ``thinking`` content part before the text, tool-call
arguments a JSON string, and declared tools a leading ``tool_declare`` message (the library's own
convention) where the renderer takes one: tml's DeepSeek renderers reject it (``Unsupported content
type``), so for them the declaration is left out, as their HF templates leave it out too.

``render_for_sft`` comes in two shapes, found once per renderer by a two-turn probe:

* one example per assistant turn, each its prompt and the turn as sampled (Qwen, gpt-oss,
  Nemotron): the last example is the conversation's, offered as ``last_assistant_message``, and the
  examples are this library's ``build_supervised_examples`` (capability ``supervised_examples``);
* one example training every assistant turn (DeepSeek, Kimi, GLM): offered as
  ``all_assistant_messages``.

There is no plain full render: the capability ``full_render`` is not claimed (the SFT ids serve
the extension check as the turn's render, never a full-conversation parity check).

Parsing: the library's parser belongs to a prompt; the adapter keeps one from a one-message prompt
(its tail, e.g. an opened ``<think>``, is the same for every prompt of the variant). Termination is
inferred: a parse that ends with the library's end-of-sampling marker, or (tml's DeepSeek parser
never emits one) of ids that end with one of its stop ids, is STOP_SEQUENCE; a parse error, or the
synthetic marker tml adds when it closes a truncated stream itself, is MALFORMED. There is no
bridge: the library re-renders history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.protocol import Capabilities, ParsedResponse, RenderedTokens, SupervisedExample, Termination

__all__ = ["TmlAdapter"]


def _ids(spans: Any) -> list[int]:
    out: list[int] = []
    for s in spans:
        span = getattr(s, "span", s)
        out += [int(t) for t in span.tokens]
    return out


def _to_oss(m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in m.items() if k not in ("reasoning_content", "tool_calls")}
    if m.get("reasoning_content"):
        out["content"] = [{"type": "thinking", "thinking": m["reasoning_content"]}, {"type": "text", "text": m.get("content") or ""}]
    if m.get("tool_calls"):
        calls = []
        for c in m["tool_calls"]:
            fn = c["function"]
            args = fn["arguments"] if isinstance(fn["arguments"], str) else json.dumps(fn["arguments"], ensure_ascii=False)
            calls.append({"id": c.get("id"), "type": "function", "function": {"name": fn["name"], "arguments": args}})
        out["tool_calls"] = calls
    if out.get("content") is None:
        out["content"] = ""
    return out


def to_tml_messages(messages: Sequence[dict[str, Any]], tools: Any, declare: bool) -> Any:
    """The conversation as tml's ``MessageList``, tools declared by a leading ``tool_declare``
    message where the renderer takes one (a finding's reproduction script runs this source)."""
    from tml_renderers import chat  # the peer library

    oss = [_to_oss(m) for m in messages]
    if tools and declare:
        oss = [{"role": "tool_declare", "content": json.dumps(list(tools), ensure_ascii=False)}] + oss
    return chat.MessageList.from_oss_messages(oss)


def _synthetic(message: Any) -> bool:
    """tml closes a truncated stream with an end-of-sampling marker of its own, flagged
    ``training_metadata.is_synthetic``: that is not a clean stop."""
    meta = getattr(message, "message_metadata", None)
    training = getattr(meta, "training_metadata", None) if meta is not None else None
    return bool(getattr(training, "is_synthetic", False))


class TmlAdapter:
    style = "tml"
    detect_order = 3  # styles are tried in this order (a native renderer also has tinker's method names)

    @staticmethod
    def detects(obj: Any) -> bool:
        """Whether ``obj`` has this style's methods."""
        return all(callable(getattr(obj, n, None)) for n in ("render_for_completion", "render_for_sft", "stop"))

    def __init__(self, renderer: Any, *, tokenizer: Any = None):
        self.renderer = renderer
        self.tokenizer = tokenizer
        self.has_extension_property = False  # the library makes no claim
        self._declares = self._takes_tool_declarations()
        per_turn = self._sft_per_turn()
        self.capabilities = Capabilities(
            bridge=False, full_render=False, prefill=False,
            train_on=("last_assistant_message",) if per_turn else ("all_assistant_messages",),
            supervised_examples=("last_assistant_message", "last_assistant_turn", "all_assistant_messages") if per_turn else (),
        )

    def _takes_tool_declarations(self) -> bool:
        tool = {"type": "function", "function": {"name": "probe", "description": "d", "parameters": {"type": "object", "properties": {}}}}
        try:
            self.renderer.render_for_completion(self._messages([{"role": "user", "content": "x"}], [tool], declare=True))
        except ValueError as e:  # the library's own refusal of the declaration
            if "Unsupported content type" in str(e):
                return False
            raise
        return True

    def _sft_per_turn(self) -> bool:
        two = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
               {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]
        return len(self.renderer.render_for_sft(self._messages(two, None))) == 2

    def _messages(self, messages: Sequence[dict[str, Any]], tools: Any, *, declare: bool | None = None) -> Any:
        return to_tml_messages(messages, tools, self._declares if declare is None else declare)

    def _examples(self, messages: Sequence[dict[str, Any]], tools: Any) -> list[Any]:
        examples = list(self.renderer.render_for_sft(self._messages(messages, tools)))
        if not examples:
            raise ValueError("tml render_for_sft returned no training example")
        return examples

    def _sft(self, messages: Sequence[dict[str, Any]], tools: Any) -> Any:
        return self._examples(messages, tools)[-1]

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        if add_generation_prompt:
            return RenderedTokens(self.build_generation_prompt(messages, tools=tools))
        return RenderedTokens(_ids(self._sft(messages, tools).input_token_spans))

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None) -> list[int]:
        spans, _ = self.renderer.render_for_completion(self._messages(messages, tools))
        ids = _ids(spans)
        if prefill:
            # The library has no prefill (capability prefill=False: the suite does not judge this).
            ids += list(self.tokenizer.encode(prefill, add_special_tokens=False))
        return ids

    def build_supervised_example(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "last_assistant_message"
    ) -> SupervisedExample:
        if train_on not in self.capabilities.train_on:
            raise ValueError(f"tml-renderers offers {self.capabilities.train_on[0]} only for this renderer")
        ex = self._sft(messages, tools)
        return SupervisedExample(_ids(ex.input_token_spans), [float(w) for w in ex.per_token_loss_weight_unshifted])

    def build_supervised_examples(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "all_assistant_messages"
    ) -> list[SupervisedExample]:
        from conformance.protocol import chosen_turns

        if train_on not in self.capabilities.supervised_examples:
            raise ValueError("tml-renderers gives one example per turn only for renderers that train each turn apart")
        examples = self._examples(messages, tools)
        turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        chosen = set(chosen_turns(messages, train_on))
        return [SupervisedExample(_ids(ex.input_token_spans), [float(w) for w in ex.per_token_loss_weight_unshifted])
                for k, ex in zip(turns, examples) if k in chosen]

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse:
        from tml_renderers import chat  # the peer library

        # A parser per completion, as the library hands them out (render_for_completion returns
        # the prompt and the parser of what is sampled after it): one shared by every call raced
        # under the threads check (Qwen3.5 parses came back empty), which would be this
        # adapter's doing, not the library's.
        _, parser = self.renderer.render_for_completion(self._messages([{"role": "user", "content": "x"}], None))
        try:
            parsed = list(parser.parse_tokens([int(i) for i in ids]))
        except Exception:  # noqa: BLE001 - the library raises ParseError on truncated or broken output
            return ParsedResponse(termination=Termination.MALFORMED)
        synthetic = any(_synthetic(m) for m in parsed)
        marked = any(type(getattr(m, "content", None)).__name__ == "ModelEndSampling" for m in parsed)
        # tml's DeepSeek parser emits no end-of-sampling marker: ids ending with a stop id ended cleanly.
        ended = not synthetic and (marked or (bool(ids) and int(ids[-1]) in self.stop_token_ids()))
        try:
            dicts = chat.MessageList(parsed).to_oss_messages()
        except Exception:  # noqa: BLE001
            return ParsedResponse(termination=Termination.MALFORMED)
        content, reasoning, calls = "", "", []
        for d in dicts:
            c = d.get("content")
            if isinstance(c, list):
                reasoning += "".join(p.get("thinking", "") for p in c if p.get("type") == "thinking")
                content += "".join(p.get("text", "") for p in c if p.get("type") == "text")
            elif isinstance(c, str):
                content += c
            for call in d.get("tool_calls") or []:
                fn = call.get("function", call)
                args = fn.get("arguments")
                if isinstance(args, str):
                    try:
                        args = json.loads(args)
                    except json.JSONDecodeError:
                        ended = False
                calls.append({"name": fn.get("name"), "arguments": args})
        return ParsedResponse(content, reasoning, calls, Termination.STOP_SEQUENCE if ended else Termination.MALFORMED)

    def stop_token_ids(self) -> list[int]:
        stop = self.renderer.stop()
        if stop is None:
            return []
        if isinstance(stop, str):
            stop = [stop]
        out: list[int] = []
        for s in stop:
            if isinstance(s, int):
                out.append(int(s))
            else:
                tid = self.tokenizer.convert_tokens_to_ids(s) if self.tokenizer is not None else None
                out += [int(tid)] if isinstance(tid, int) and tid >= 0 else list(self.tokenizer.encode(s, add_special_tokens=False))
        return out

    def bridge_to_next_turn(self, *a: Any, **k: Any) -> list[int] | None:
        return None
