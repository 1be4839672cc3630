"""Prime Intellect ``renderers`` style: ``render`` -> RenderedTokens(token_ids, message_indices),
``render_ids``, ``parse_response`` (no termination field), ``get_stop_token_ids``,
``bridge_to_next_turn`` -> RenderedTokens | None, ``is_prefix_stable``.

Termination is inferred: a completion ending in one of the renderer's stop ids is STOP_SEQUENCE,
anything else MALFORMED (the library reports none). ``parse_response`` is given ``prompt_ids``
(the library asks for them: a prompt that opens ``<think>`` or an analysis channel changes how
the completion starts): those of a one-message conversation, whose tail is the same for every
prompt of the variant. Supervised examples come from
``renderers.build_training_sample(renderer, messages)``, whose loss mask covers every assistant
message: it is offered as ``all_assistant_messages`` only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.protocol import Capabilities, ParsedResponse, RenderedTokens, SupervisedExample, Termination

__all__ = ["PrimeAdapter"]


def _ids(x: Any) -> list[int]:
    if x is None:
        return []
    if hasattr(x, "token_ids"):
        x = x.token_ids
    return [int(i) for i in x]


class PrimeAdapter:
    style = "prime"
    detect_order = 1  # styles are tried in this order (a native renderer also has tinker's method names)

    @staticmethod
    def detects(obj: Any) -> bool:
        """Whether ``obj`` has this style's methods."""
        return all(callable(getattr(obj, n, None)) for n in ("render_ids", "get_stop_token_ids"))

    def __init__(self, renderer: Any, *, tokenizer: Any = None):
        self.renderer = renderer
        self.tokenizer = tokenizer
        self.has_extension_property = bool(getattr(renderer, "is_prefix_stable", False))
        self._prompt_tail: list[int] | None = None
        # Images where the renderer holds an image processor: the factory passes one to a
        # multimodal renderer's constructor (``processor=``); without it the library would load one
        # from the hub by the tokenizer's name.
        images = getattr(renderer, "_processor", None) is not None
        self.capabilities = Capabilities(
            bridge=callable(getattr(renderer, "bridge_to_next_turn", None)), train_on=("all_assistant_messages",), prefill=False,
            images=images,
        )

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        rt = self.renderer.render(list(messages), tools=tools, add_generation_prompt=add_generation_prompt)
        mi = getattr(rt, "message_indices", None)
        return RenderedTokens(_ids(rt), list(mi) if mi is not None else None)

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None) -> list[int]:
        ids = _ids(self.renderer.render_ids(list(messages), tools=tools, add_generation_prompt=True))
        if prefill:
            # The library has no prefill (capability prefill=False: the suite does not judge this).
            ids += list(self.tokenizer.encode(prefill, add_special_tokens=False))
        return ids

    def build_supervised_example(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "all_assistant_messages"
    ) -> SupervisedExample:
        import renderers  # the peer library

        if train_on != "all_assistant_messages":
            raise ValueError("Prime renderers train on all assistant messages only")
        s = (
            renderers.build_training_sample(self.renderer, list(messages), tools=tools)
            if tools
            else renderers.build_training_sample(self.renderer, list(messages))
        )
        return SupervisedExample(_ids(s.token_ids), [float(w) for w in s.loss_mask])

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse:
        ids = list(ids)
        term = Termination.STOP_SEQUENCE if ids and ids[-1] in self.stop_token_ids() else Termination.MALFORMED
        if self._prompt_tail is None:
            self._prompt_tail = _ids(self.renderer.render_ids([{"role": "user", "content": "x"}], add_generation_prompt=True))
        try:
            p = self.renderer.parse_response(ids, prompt_ids=self._prompt_tail)
        except Exception:  # noqa: BLE001
            return ParsedResponse(termination=Termination.MALFORMED)
        calls = []
        for c in getattr(p, "tool_calls", None) or []:
            args = getattr(c, "arguments", {})
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    term = Termination.MALFORMED
            calls.append({"name": getattr(c, "name", ""), "arguments": args})
        return ParsedResponse(getattr(p, "content", "") or "", getattr(p, "reasoning_content", "") or "", calls, term)

    def stop_token_ids(self) -> list[int]:
        return [int(i) for i in self.renderer.get_stop_token_ids()]

    def bridge_to_next_turn(
        self, prev_prompt: Sequence[int], prev_completion: Sequence[int], new_messages: Sequence[dict[str, Any]], *, tools: Any = None
    ) -> list[int] | None:
        out = self.renderer.bridge_to_next_turn(list(prev_prompt), list(prev_completion), list(new_messages))
        return None if out is None else _ids(out)
