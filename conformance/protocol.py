"""The contract a renderer is certified against.

Messages are OpenAI-style dicts (see :mod:`conformance.messages`); ids are ``list[int]`` of the
model's tokenizer. Adapters (:mod:`conformance.adapters`) map the API styles in the field onto
:class:`Renderer`; a renderer written for this project implements it directly.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "TRAIN_ON",
    "TRAIN_ON_TURNS",
    "CUSTOMIZED",
    "TRAINABLE",
    "TRAIN_ON_CHOICES",
    "chosen_turns",
    "Termination",
    "ParsedResponse",
    "ResponseDelta",
    "assemble",
    "RenderedTokens",
    "SupervisedExample",
    "Capabilities",
    "Renderer",
]

Message = dict[str, Any]

#: Train-on choices the suite knows how to derive from the oracle.
TRAIN_ON = ("last_assistant_message", "last_assistant_turn", "all_assistant_messages", "all_messages", "all_tokens")
#: Per-message train flags (tinker-cookbook's ``TrainOnWhat.CUSTOMIZED``): the messages whose
#: :data:`TRAINABLE` key is True are trained, each as ``all_messages`` trains it. Derived from the
#: goldens' per-message spans, so it is not one of the goldens' own choices; a renderer claims it
#: explicitly (it needs the flags on every message).
CUSTOMIZED = "customized"
#: The message key that flags a message for ``customized`` (tinker-cookbook's spelling).
TRAINABLE = "trainable"
#: Every train-on choice the suite judges.
TRAIN_ON_CHOICES = (*TRAIN_ON, CUSTOMIZED)
#: The choices that select assistant turns: what ``build_supervised_examples`` (one example per
#: sampled turn) serves.
TRAIN_ON_TURNS = ("last_assistant_message", "last_assistant_turn", "all_assistant_messages")


def chosen_turns(messages: Sequence[dict[str, Any]], train_on: str) -> list[int]:
    """Indices of the assistant messages ``train_on`` (one of :data:`TRAIN_ON_TURNS`, or
    :data:`CUSTOMIZED`: the flagged ones) trains."""
    turns = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    if train_on == CUSTOMIZED:
        return [i for i in turns if messages[i].get(TRAINABLE) is True]
    if train_on == "last_assistant_message":
        return turns[-1:]
    if train_on == "last_assistant_turn":
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        return [i for i in turns if i > last_user]
    return turns


class Termination(str, enum.Enum):
    """How a sampled completion ended."""

    STOP_SEQUENCE = "stop_sequence"  # ended with one of stop_token_ids(): a clean end of turn
    EOS = "eos"  # ended with the tokenizer's EOS where that is not the turn marker
    MALFORMED = "malformed"  # no end marker (truncated) or unparseable structure


@dataclass
class ParsedResponse:
    content: str = ""
    reasoning_content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "arguments": <JSON value>}]
    termination: Termination = Termination.MALFORMED


@dataclass(frozen=True)
class ResponseDelta:
    """One step of a streamed parse (``parse_response_streaming``): text to append to the content
    or to the reasoning, or one whole tool call (``{"name", "arguments"}``, as ``parse_response``
    gives it). The last delta of a stream, and only it, carries the stream's termination."""

    content: str = ""
    reasoning_content: str = ""
    tool_call: dict[str, Any] | None = None
    termination: Termination | None = None


def assemble(deltas: Iterable[ResponseDelta]) -> ParsedResponse:
    """What a client displaying a stream ends with: the deltas' texts concatenated, their tool calls
    in order, the last delta's termination (``MALFORMED`` for a stream without one)."""
    out = ParsedResponse()
    for d in deltas:
        out.content += d.content
        out.reasoning_content += d.reasoning_content
        if d.tool_call is not None:
            out.tool_calls.append(d.tool_call)
        if d.termination is not None:
            out.termination = d.termination
    return out


@dataclass
class RenderedTokens:
    ids: list[int]
    message_indices: list[int] | None = None  # per token: the message it belongs to, -1 for template-only


@dataclass
class SupervisedExample:
    ids: list[int]
    weights: list[float]


@dataclass(frozen=True)
class Capabilities:
    """What a renderer claims. The suite skips an area only for a capability *not* claimed."""

    tools: bool = True
    thinking: bool = True
    #: ``render(add_generation_prompt=False)`` is a full render of its own (not a supervised
    #: example's ids): the full-conversation parity checks judge it.
    full_render: bool = True
    supervised: bool = True
    bridge: bool = False
    parse: bool = True
    #: ``parse_response_streaming`` exists (claimed explicitly: most renderers parse in one shot)
    streaming: bool = False
    #: ``to_openai_message`` exists (claimed explicitly)
    openai_message: bool = False
    #: user content may be a list of text and image parts, images expanded as the model's processor
    #: expands them (claimed explicitly, on a model that takes images)
    images: bool = False
    #: ``build_generation_prompt(prefill=)`` appends the prefill as text (False: the renderer has no
    #: prefill of its own; an adapter that appended it would be judged instead of the library)
    prefill: bool = True
    #: roles other than ``assistant`` whose turn ``build_generation_prompt(role=)`` opens (``("user",)``:
    #: a user simulator's prompt; claimed explicitly, the suite never passes ``role=`` otherwise)
    prompt_roles: tuple[str, ...] = ()
    #: ``create_conversation_prefix_with_tools(tools, system_prompt)`` exists (claimed explicitly)
    tool_prefix: bool = False
    train_on: tuple[str, ...] = TRAIN_ON
    #: train-on choices ``build_supervised_examples`` (one example per sampled turn) serves; empty:
    #: the renderer has no such method
    supervised_examples: tuple[str, ...] = ()


@runtime_checkable
class Renderer(Protocol):
    """A chat-template renderer for one model and one template variant.

    Guarantees checked by the suite (each area is one module of ``conformance/suite``):

    * ``render(messages, tools=, add_generation_prompt=)`` returns exactly the ids of the model's
      own chat template for the same call (*template parity*), with message **content encoded as
      text**: special-token look-alikes in user/system/tool text never become special ids
      (*injection*); only the template's structure does.
    * ``build_generation_prompt(messages, tools=, prefill=)`` equals
      ``render(messages, add_generation_prompt=True)`` followed by ``prefill`` encoded as text.
      With ``role=R`` (R in ``capabilities.prompt_roles``; tinker-cookbook's ``role=``, e.g. a user
      simulator's ``"user"``) it opens a turn of R instead: the template's render of the messages
      followed by a message of role R, up to where that message's content starts.
    * ``create_conversation_prefix_with_tools(tools, system_prompt="")`` (capability ``tool_prefix``;
      tinker-cookbook's) returns messages that, followed by a conversation without its system
      message, make every method above give what it gives for that conversation with ``tools=`` and
      that system prompt (none where it is empty), without ``tools=``.
    * ``build_supervised_example(messages, tools=, train_on=)`` returns the full render's ids and a
      weight per id: 1 exactly on the chosen assistant messages' tokens, 0 elsewhere (*loss
      weights*). A message's tokens are the ones the model sampled for it (from the end of its
      generation prompt through its end-of-turn token) where its turn is in history as sampled;
      where the template renders it differently in history (a think block written or dropped),
      they are its own tokens in the render: from the first token that changes with its content,
      reasoning or tool calls, through its end-of-turn token (template scaffolding such as an empty
      ``<think>\n\n</think>\n\n`` weighs 0). It never refuses a conversation the template renders
      (see :mod:`conformance.oracle.turn_spans`). Where the template has no end-of-turn token of its own
      and the next message's role marker closes a turn (GLM-5), that marker is the turn's
      end-of-turn token, and a conversation ending with an assistant message is followed by the
      marker of the message that would follow it (``<|observation|>`` after tool calls, else
      ``<|user|>``; see :mod:`conformance.oracle.turn_end`). ``train_on`` is one of
      ``capabilities.train_on``: ``last_assistant_message``, ``last_assistant_turn`` (every assistant
      message after the last user message; tool results between them weigh 0),
      ``all_assistant_messages``, ``all_messages`` (every assistant message as above plus the body
      of every other message: its content through its end-of-turn token, never its role header;
      see :mod:`conformance.oracle.message_spans`), ``all_tokens`` (weight 1 everywhere), or
      ``customized`` (claimed explicitly: every message carries ``trainable: True`` or ``False``,
      and exactly the flagged ones are trained, each as ``all_messages`` trains it).
    * ``build_supervised_examples(messages, tools=, train_on=)`` (capability
      ``supervised_examples``: the :data:`TRAIN_ON_TURNS` choices it serves) returns one example
      per chosen assistant turn: exactly its generation prompt (weight 0) and the completion the
      model sampled (weight 1). This is how to train on templates without the extension property,
      where a full render is not what the model sampled (*loss weights*).
    * ``parse_response(ids)`` turns sampled ids back into content, reasoning and tool calls (tool
      arguments as JSON values: ``true`` stays ``True``, ``1.0`` stays ``1.0``), and says how the
      sample ended: ``STOP_SEQUENCE`` only if it ends with a stop id; a completion cut before its
      stop id is ``MALFORMED``, never clean (*round trip*). It never raises on garbage ids.
    * ``parse_response_streaming(chunks)`` (capability ``streaming``) takes the ids as a sampler
      yields them (any chunking, one id at a time included) and yields deltas (:class:`ResponseDelta`)
      as soon as they are certain: what they add up to (:func:`assemble`) is exactly
      ``parse_response`` of all the ids, termination included (a truncated stream ends
      ``MALFORMED``), whatever the chunking; no delta's text holds a special token's text, and
      nothing is shown that a later id would take back (``</thi`` as content before ``</think>``
      arrives) (*streaming*).
    * ``to_openai_message(ids)`` (capability ``openai_message``) turns a completion into the
      assistant message an OpenAI-compatible client receives and sends back: ``role``,
      ``content``, ``reasoning_content`` where there is reasoning, ``tool_calls`` as
      ``[{"id", "type": "function", "function": {"name", "arguments": <JSON text>}}]``. Serialized
      to JSON and back, and rendered by the template after the conversation's earlier messages,
      it gives the conversation's full render: no drift such as ``true`` written ``True``, a
      number or a key order changed, an id lost (*openai*).
    * Where ``capabilities.images`` is claimed, a user message's ``content`` may be a list of parts,
      ``{"type": "text", "text": str}`` and ``{"type": "image", "image": PIL.Image.Image}``: every
      method above takes such messages, and an image becomes the ids the model's own processor
      gives it (Qwen3.5/3.6: ``<|vision_start|>``, one ``<|image_pad|>`` per merged patch of the
      resized image, ``<|vision_end|>``). An image's tokens weigh 0 under every train-on choice but
      ``all_tokens``: no choice trains a model to predict pixels. A renderer that does not claim it
      refuses such content with a ``ValueError`` naming the message, never drops an image (*images*).
    * ``stop_token_ids()`` includes the id that closes assistant turns; every stop id is a special
      token, so content can never contain one (*stop sequences*).
    * ``has_extension_property``: True only if, for every conversation, each turn's generation
      prompt plus its completion is a token prefix of the next turn's generation prompt
      (*extension*).
    * ``bridge_to_next_turn(prev_prompt, prev_completion, new_messages, tools=)`` (capability
      ``bridge``) returns ``prev_prompt + prev_completion`` byte for byte, closes a truncated
      completion as the template would, then the new (non-assistant) messages and the next
      generation prompt; or None when it cannot prove the result (always for new assistant
      messages) (*bridge*).
    * The renderer pickles, also into a freshly spawned process, and behaves identically after
      (*pickle*).
    * One renderer may be shared by threads: generation prompts, supervised examples and parses
      made from several threads at once each equal the same call made alone (*threads*).
    """

    capabilities: Capabilities
    has_extension_property: bool

    def render(self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None,
               add_generation_prompt: bool = False) -> RenderedTokens: ...

    def build_generation_prompt(self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None,
                                prefill: str | None = None) -> list[int]: ...

    def build_supervised_example(self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None,
                                 train_on: str = "last_assistant_message") -> SupervisedExample: ...

    def build_supervised_examples(self, messages: Sequence[Message], *, tools: Sequence[dict[str, Any]] | None = None,
                                  train_on: str = "all_assistant_messages") -> list[SupervisedExample]: ...

    def parse_response(self, ids: Sequence[int]) -> ParsedResponse: ...

    def parse_response_streaming(self, chunks: Iterable[Sequence[int]]) -> Iterator[ResponseDelta]: ...

    def to_openai_message(self, ids: Sequence[int]) -> dict[str, Any]: ...

    def stop_token_ids(self) -> list[int]: ...

    def bridge_to_next_turn(self, prev_prompt: Sequence[int], prev_completion: Sequence[int],
                            new_messages: Sequence[Message], *,
                            tools: Sequence[dict[str, Any]] | None = None) -> list[int] | None: ...
