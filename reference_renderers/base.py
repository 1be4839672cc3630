"""What every hand-written reference renderer shares.

A subclass sets ``family``, ``parser``, ``default_model`` and ``has_extension_property`` (defining
it registers the family: :mod:`reference_renderers.families`) and writes ``_pieces(messages, tools,
add_generation_prompt)``: the render as ``("s", structure)`` / ``("c", content)`` pieces, from
the template's behaviour (never by calling it). User, system and tool text is ``c`` (always encoded
as text: the injection standard); assistant text is ``s``, as the template's own render and the
sampler have it (a spelled ``<tool_response>`` there is the token). This class turns pieces into ids under the
injection standard, builds supervised examples, parses completions, gives stop ids from the
registry, and pickles by reference (model id + variant: a small pickle that a spawned worker
rebuilds from the vendored snapshot).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.messages import validate_messages
from conformance.protocol import TRAIN_ON_CHOICES, Capabilities, ParsedResponse, RenderedTokens, ResponseDelta, SupervisedExample
from reference_renderers import families
from reference_renderers.encoding import PieceEncoder
from reference_renderers.fast_bpe import fast_text_encoder, unformable_entries
from reference_renderers.openai_message import to_openai
from reference_renderers.parsers import parse_ids
from reference_renderers.streaming import stream_parse
from reference_renderers.tool_prefix import declared_tools, prefix_with_tools
from reference_renderers.training import TRAIN_ON_TURNS, Training

__all__ = ["PieceRenderer"]

# The content of the turn a prompt for another role opens: private use, in no real text.
_TURN_PROBE = "\ue008"

# ("s", structure) | ("c", content) | ("m", "", message_index): see reference_renderers.encoding
Pieces = list[tuple[Any, ...]]


class PieceRenderer:
    family = ""
    parser: Any = None  # staticmethod(parse_...) from reference_renderers.parsers
    default_model = ""  # the model get_renderer("<family>") builds
    has_extension_property = False
    bridge = False  # subclasses with a bridge set this and override bridge_to_next_turn

    def __init_subclass__(cls, register: bool | None = None, **kwargs: Any) -> None:
        """A class of this package that sets its own ``family`` serves it; a class elsewhere (a
        mutant, a user's subclass) only with ``register=True``."""
        super().__init_subclass__(**kwargs)
        ours = cls.__module__.startswith("reference_renderers.") and "family" in cls.__dict__
        if register or (register is None and ours):
            families.register(cls)

    def __init__(self, tokenizer: Any = None, *, model_id: str | None = None, variant: str | None = None):
        from conformance.fixtures.registry import get_model
        from conformance.fixtures.snapshots import load_text_encoder, load_tokenizer

        model_id = model_id or self.default_model
        if not model_id:
            raise ValueError(f"{type(self).__name__} needs a model id (its class sets no default_model)")
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
        # The fast exact BPE where the snapshot allows it, HF tokenizers elsewhere (loaded only
        # when needed: most of a rollout worker's start-up); one core unless
        # REFERENCE_RENDERERS_PARALLEL=1 (reference_renderers/fast_bpe.py).
        known = _KNOWN_UNFORMABLE.get(snap.content_hash)
        text = fast_text_encoder(snap, functools.partial(load_text_encoder, snap), unformable=known) or load_text_encoder(snap)
        self._snapshot = snap
        self._enc = PieceEncoder(self.tokenizer, text, parallel=os.environ.get("REFERENCE_RENDERERS_PARALLEL") == "1")
        self._stop_ids = [self._enc.id(t) for t in entry.end_of_turn]
        self.capabilities = Capabilities(bridge=self.bridge, streaming=True, openai_message=True, train_on=TRAIN_ON_CHOICES,
                                         supervised_examples=TRAIN_ON_TURNS, prompt_roles=("user",), tool_prefix=True)

    def __reduce__(self) -> tuple[Any, ...]:
        # By name, plus what the fast encoder found about the snapshot (tied to its content hash):
        # the receiving process rebuilds from its own vendored files.
        return (_rebuild, (type(self).__module__, type(self).__qualname__, self.model_id, self.variant,
                           unformable_entries(self._snapshot)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r}, variant={self.variant!r})"

    def _pieces(self, messages: Sequence[dict[str, Any]], tools: Any, agp: bool) -> Pieces:
        raise NotImplementedError

    def create_conversation_prefix_with_tools(self, tools: Sequence[dict[str, Any]], system_prompt: str = "") -> list[dict[str, Any]]:
        """One system message carrying the tools and the system prompt
        (:mod:`reference_renderers.tool_prefix`): read back as ``tools=`` by every method."""
        return prefix_with_tools(tools, system_prompt)

    def render(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, add_generation_prompt: bool = False) -> RenderedTokens:
        messages, tools, shift = declared_tools(messages, tools)
        ids, owners = self._enc.encode_with_messages(self._pieces(messages, tools, add_generation_prompt))
        return RenderedTokens(ids, [o + shift if o >= 0 else o for o in owners] if shift else owners)

    def build_generation_prompt(self, messages: Sequence[dict[str, Any]], *, tools: Any = None, prefill: str | None = None,
                                role: str = "assistant") -> list[int]:
        messages, tools, _ = declared_tools(messages, tools)
        if role == "assistant":
            return self._enc.encode(self._pieces(messages, tools, True)) + self._enc.text_ids(prefill or "")
        if role not in self.capabilities.prompt_roles:
            raise ValueError(f"role must be assistant or one of {', '.join(self.capabilities.prompt_roles)}, not {role!r}")
        return self._enc.encode(self._opened_turn(messages, tools, role)) + self._enc.text_ids(prefill or "")

    def _opened_turn(self, messages: Sequence[dict[str, Any]], tools: Any, role: str) -> Pieces:
        """The pieces of ``messages`` followed by a ``role`` message, up to where its content
        starts: the family writes the turn as it writes any such message, so the header is its own."""
        validate_messages(messages, parts=self.capabilities.images)
        pieces = self._pieces([*messages, {"role": role, "content": _TURN_PROBE}], tools, False)
        at = next((k for k, p in enumerate(pieces) if p[0] != "m" and _TURN_PROBE in p[1]), None)
        if at is None:
            raise InvalidMessagesError(f"message {len(messages)}: this template writes no content for a {role} turn after "
                                       "these messages, so no prompt opens one")
        kind, text = pieces[at][0], pieces[at][1]
        head = text[: text.index(_TURN_PROBE)]
        return [*pieces[:at], *([(kind, head)] if head else [])]

    def build_supervised_example(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "last_assistant_message"
    ) -> SupervisedExample:
        """The full render (GLM-5: followed by the marker that closes the final turn) with weight 1
        on the trained tokens of ``train_on`` (see :mod:`reference_renderers.training`)."""
        if train_on not in self.capabilities.train_on:
            raise ValueError(f"train_on must be one of {', '.join(self.capabilities.train_on)}, not {train_on!r}")
        messages, tools, _ = declared_tools(messages, tools)
        validate_messages(messages, parts=self.capabilities.images)
        return Training(self, messages, tools).example(train_on)

    def build_supervised_examples(
        self, messages: Sequence[dict[str, Any]], *, tools: Any = None, train_on: str = "all_assistant_messages"
    ) -> list[SupervisedExample]:
        """One example per chosen assistant turn: exactly its generation prompt and the completion
        the model sampled (the way to train where the template renders turns differently in
        history than when sampling them)."""
        if train_on not in TRAIN_ON_TURNS:
            raise ValueError(f"train_on must be one of {', '.join(TRAIN_ON_TURNS)}, not {train_on!r}")
        messages, tools, _ = declared_tools(messages, tools)
        validate_messages(messages, parts=self.capabilities.images)
        return Training(self, messages, tools).sampled_examples(train_on)

    def _closing_marker(self, messages: Sequence[dict[str, Any]]) -> int:
        """The marker that closes the final assistant turn of ``messages`` where the next message's
        marker closes turns (registry ``turn_end = "next_message"``); families that close turns
        with a token of their own never need it."""
        raise NotImplementedError(f"{type(self).__name__}: the {self.family} template closes turns with a token of its own")

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse:
        return parse_ids(type(self).parser, self.tokenizer, ids, self.stop_token_ids())

    def parse_response_streaming(self, chunks: Iterable[Sequence[int]]) -> Iterator[ResponseDelta]:
        return stream_parse(type(self).parser, self.tokenizer, chunks, self.stop_token_ids(), self.parse_response)

    def to_openai_message(self, ids: Sequence[int]) -> dict[str, Any]:
        return to_openai(type(self).parser, self.tokenizer, ids, self.stop_token_ids(), self.parse_response(ids))

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


#: content hash -> unformable entries a pickled renderer brought, for the constructor it rebuilds with
_KNOWN_UNFORMABLE: dict[str, tuple[int, ...]] = {}


def _rebuild(module: str, qualname: str, model_id: str, variant: str,
             unformable: tuple[str, tuple[int, ...]] | None = None) -> Any:
    import importlib

    if unformable is not None:
        # Used only by a snapshot with the same content hash (the same tokenizer.json).
        _KNOWN_UNFORMABLE[unformable[0]] = unformable[1]
    cls = getattr(importlib.import_module(module), qualname)
    return cls(model_id=model_id, variant=variant)
