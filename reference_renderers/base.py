"""What every hand-written reference renderer shares.

A subclass sets ``family`` and ``has_extension_property`` and writes ``_pieces(messages, tools,
add_generation_prompt)``: the render as ``("s", structure)`` / ``("c", content)`` pieces, from
the template's behaviour (never by calling it). User, system and tool text is ``c`` (always encoded
as text: the injection standard); assistant text is ``s``, as the template's own render and the
sampler have it (a spelled ``<tool_response>`` there is the token). This class turns pieces into ids under the
injection standard, builds supervised examples, parses completions, gives stop ids from the
registry, and pickles by reference (model id + variant: a small pickle that a spawned worker
rebuilds from the vendored snapshot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.message_spans import message_bodies, runs_from_owners
from conformance.messages import validate_messages
from conformance.protocol import Capabilities, ParsedResponse, RenderedTokens, SupervisedExample
from conformance.turn_end import closing_position, final_closing_id, with_probe
from reference_renderers.encoding import PieceEncoder
from reference_renderers.parsers import parse_with

__all__ = ["PieceRenderer", "supervised_example"]

# ("s", structure) | ("c", content) | ("m", "", message_index): see reference_renderers.encoding
Pieces = list[tuple[Any, ...]]


def supervised_example(
    messages: Sequence[dict[str, Any]],
    ids: list[int],
    train_on: str,
    choices: Sequence[str],
    prompt_before: Callable[[int], list[int]],
    stop_ids: Sequence[int],
    message_runs: Callable[[], dict[int, tuple[int, int]] | str] | None = None,
    render_full: Callable[[list[dict[str, Any]]], list[int]] | None = None,
    turn_end: str = "token",
) -> SupervisedExample:
    """Weights over ``ids`` (the full render) for ``train_on`` (see ``conformance.protocol.TRAIN_ON``).

    Each trained assistant message ``k`` contributes the tokens the model samples for it: from the
    end of its generation prompt (``prompt_before(k)``, which must be a prefix of ``ids``) through
    the first stop id after it. Everything else weighs 0, including template text after the last
    stop id (Qwen's trailing newline), which stays in the example. ``all_messages`` adds the body
    of every other message (``conformance.message_spans.body_span``), from ``message_runs()`` (each
    message's token extent in ``ids``) and ``render_full`` (the render of edited messages).

    ``turn_end="next_message"`` (GLM-5, :mod:`conformance.turn_end`): a turn ends with the next
    message's marker instead, found with ``render_full``; a conversation that ends with an
    assistant message gets the marker of the message that would follow it appended to ``ids``."""
    if train_on not in choices:
        raise ValueError(f"train_on must be one of {', '.join(choices)}, not {train_on!r}")
    closed_by_next = turn_end == "next_message"
    if closed_by_next and messages and messages[-1]["role"] == "assistant":
        if render_full is None:
            raise ValueError("turn_end='next_message' needs render_full")
        closing = final_closing_id(messages, ids, render_full, stop_ids)
        if isinstance(closing, str):
            raise InvalidMessagesError(f"message {len(messages) - 1}: the end of the final turn cannot be found: {closing}")
        ids = [*ids, closing]
    if train_on == "all_tokens":
        return SupervisedExample(ids, [1.0] * len(ids))
    weights = [0.0] * len(ids)
    targets = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if train_on == "last_assistant_message":
        targets = targets[-1:]
    elif train_on == "last_assistant_turn":
        last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
        targets = [i for i in targets if i > last_user]
    stops = set(stop_ids)
    if train_on == "all_messages":
        for start, end in _bodies(messages, ids, stop_ids, message_runs, render_full):
            weights[start:end] = [1.0] * (end - start)
    for k in targets:
        prompt = prompt_before(k)
        if ids[: len(prompt)] != prompt:
            raise InvalidMessagesError(
                f"message {k}: its turn renders differently in history than when sampled "
                "(the template rewrites earlier turns); train such turns one at a time"
            )
        if closed_by_next:
            j: int | str | None = len(ids) - 1 if k == len(messages) - 1 else None
            if j is None:
                assert render_full is not None
                j = closing_position(prompt, ids, render_full(with_probe(messages, k + 1)), stop_ids)
            if isinstance(j, str):
                raise InvalidMessagesError(f"message {k}: no end-of-turn token closes it: {j}")
        else:
            j = next((j for j in range(len(prompt), len(ids)) if ids[j] in stops), None)
            if j is None:
                raise InvalidMessagesError(f"message {k}: no end-of-turn token after its generation prompt")
        for t in range(len(prompt), j + 1):
            weights[t] = 1.0
    return SupervisedExample(ids, weights)


def _bodies(
    messages: Sequence[dict[str, Any]],
    ids: list[int],
    stop_ids: Sequence[int],
    message_runs: Callable[[], dict[int, tuple[int, int]] | str] | None,
    render_full: Callable[[list[dict[str, Any]]], list[int]] | None,
) -> list[tuple[int, int]]:
    if message_runs is None or render_full is None:
        raise ValueError("all_messages needs message_runs and render_full")
    bodies = message_bodies(messages, ids, message_runs(), render_full, stop_ids)
    if isinstance(bodies, str):
        raise InvalidMessagesError(f"all_messages cannot weigh these messages: {bodies}")
    return bodies


class PieceRenderer:
    family = ""
    has_extension_property = False
    bridge = False  # subclasses with a bridge set this and override bridge_to_next_turn

    def __init__(self, tokenizer: Any = None, *, model_id: str, variant: str | None = None):
        from conformance.registry import get_model
        from conformance.snapshots import load_text_encoder, load_tokenizer

        entry = get_model(model_id)
        if entry.family != self.family:
            raise ValueError(f"{type(self).__name__} serves the {self.family} family, not {model_id} ({entry.family})")
        self.model_id = model_id
        self.entry = entry
        v = entry.variant(variant or next(iter(entry.variants)))
        self.variant = v.name
        # What this variant passes the template (date_string, reasoning_effort, ...): subclasses read it here.
        self.template_kwargs = dict(v.template_kwargs)
        snap = entry.snapshot()
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(snap)
        self._enc = PieceEncoder(self.tokenizer, load_text_encoder(snap))
        self._stop_ids = [self._enc.id(t) for t in entry.end_of_turn]
        self.capabilities = Capabilities(bridge=self.bridge)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self).__module__, type(self).__qualname__, self.model_id, self.variant))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r}, variant={self.variant!r})"

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        raise NotImplementedError

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        ids, owners = self._enc.encode_with_messages(self._pieces(messages, tools, add_generation_prompt))
        return RenderedTokens(ids, owners)

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None) -> list[int]:
        return self._enc.encode(self._pieces(messages, tools, True)) + self._enc.text_ids(prefill or "")

    def build_supervised_example(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "last_assistant_message"
    ) -> SupervisedExample:
        # The ids alone: message attribution (what render() adds) is needed only for all_messages.
        ids = self._enc.encode(self._pieces(messages, tools, False))
        return supervised_example(
            messages,
            ids,
            train_on,
            self.capabilities.train_on,
            lambda k: self.build_generation_prompt(messages[:k], tools=tools),
            self._stop_ids,
            message_runs=lambda: runs_from_owners(self.render(messages, tools=tools).message_indices or []),
            render_full=lambda edited: self._enc.encode(self._pieces(edited, tools, False)),
            turn_end=self.entry.turn_end,
        )

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse:
        return parse_with(self.family, self.tokenizer, ids, self.stop_token_ids())

    def stop_token_ids(self) -> list[int]:
        return list(self._stop_ids)

    def bridge_to_next_turn(
        self, prev_prompt: Sequence[int], prev_completion: Sequence[int], new_messages: Sequence[dict[str, Any]], *, tools: Any = None
    ) -> list[int] | None:
        return None

    def _bridge_history(
        self,
        prev_prompt: Sequence[int],
        prev_completion: Sequence[int],
        new_messages: Sequence[dict[str, Any]],
        *,
        closing_id: int,
        refused_roles: tuple[str, ...] = ("assistant",),
        roles: Sequence[str] | None = None,
    ) -> list[int] | None:
        """What every bridge starts with: None for new messages it must not bridge (an assistant
        message is sampled, never bridged), the new messages validated, then the history kept byte
        for byte and a truncated completion closed with ``closing_id``, as the template would."""
        if not new_messages or any(m.get("role") in refused_roles for m in new_messages):
            return None
        validate_messages(new_messages, **({"roles": roles} if roles is not None else {}))
        ids = list(prev_prompt) + list(prev_completion)
        if not prev_completion or prev_completion[-1] not in (*self._stop_ids, closing_id):
            ids.append(closing_id)
        return ids


def _rebuild(module: str, qualname: str, model_id: str, variant: str) -> Any:
    import importlib

    cls = getattr(importlib.import_module(module), qualname)
    return cls(model_id=model_id, variant=variant)
