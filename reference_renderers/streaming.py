"""Streaming parse for the reference renderers, over each family's one-shot parser.

Ids arrive in chunks. After each chunk the text so far (complete characters only) is parsed as if
the stream were cut there, and again followed by each marker the family's parser reacts to
(``</think>``, ``<tool_call>``, ...): what all those readings agree on is certain, and the growth
of it is emitted. A marker arriving later can only re-read text all readings already disagreed
on (Qwen's ``\\n`` before a ``<tool_call>``, reasoning before ``</think>`` is seen), so nothing
emitted is ever taken back, and the deltas add up to the one-shot parse of the whole stream,
which ends it (the last delta carries the rest and the termination). A family whose text can
turn into something else as a whole (Llama's JSON tool call, Mistral's ``[TOOL_CALLS]``) says so
with its parser's ``undecided`` rule, and such text waits for the end.

The parser's rule is declared next to the parser (:func:`streams`), so a family written later
inherits streaming by naming its parser.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from conformance.protocol import ParsedResponse, ResponseDelta, Termination

__all__ = ["streams", "stream_parse"]

TextParser = Callable[[str, Termination], ParsedResponse]


def streams(*markers: str, undecided: Callable[[str], bool] | None = None) -> Callable[[TextParser], TextParser]:
    """Declare how a text parser streams: the ``markers`` whose arrival changes how earlier text
    reads, and ``undecided(text)``: True while the text so far may still read as something else
    entirely (nothing new is shown then)."""

    def mark(parser: TextParser) -> TextParser:
        parser.stream_markers = markers  # type: ignore[attr-defined]
        parser.stream_undecided = undecided  # type: ignore[attr-defined]
        return parser

    return mark


def _common_prefix(values: Sequence[str]) -> str:
    return os.path.commonprefix(list(values))


def _common_calls(lists: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for calls in zip(*lists):
        if any(c != calls[0] for c in calls):
            break
        out.append(calls[0])
    return out


def _certain(parser: TextParser, text: str) -> ParsedResponse:
    """What every reading of ``text`` agrees on: cut here, or followed by any marker."""
    undecided = getattr(parser, "stream_undecided", None)
    if undecided is not None and undecided(text):
        return ParsedResponse()
    readings = [parser(text + m, Termination.MALFORMED) for m in ("", *getattr(parser, "stream_markers", ()))]
    return ParsedResponse(
        content=_common_prefix([r.content for r in readings]),
        reasoning_content=_common_prefix([r.reasoning_content for r in readings]),
        tool_calls=_common_calls([r.tool_calls for r in readings]),
    )


class _Shown:
    """What the stream has shown so far; :meth:`grow` emits what ``now`` adds to it (a field
    that does not extend what was shown waits: a delta is never taken back)."""

    def __init__(self) -> None:
        self.content = ""
        self.reasoning = ""
        self.calls = 0

    def grow(self, now: ParsedResponse, termination: Termination | None = None) -> Iterator[ResponseDelta]:
        delta: dict[str, Any] = {}
        if now.reasoning_content.startswith(self.reasoning) and now.reasoning_content != self.reasoning:
            delta["reasoning_content"] = now.reasoning_content[len(self.reasoning):]
            self.reasoning = now.reasoning_content
        if now.content.startswith(self.content) and now.content != self.content:
            delta["content"] = now.content[len(self.content):]
            self.content = now.content
        new_calls = now.tool_calls[self.calls:]
        self.calls = max(self.calls, len(now.tool_calls))
        if delta or (termination is not None and not new_calls):
            yield ResponseDelta(**delta, termination=termination if not new_calls else None)
        for i, call in enumerate(new_calls):
            yield ResponseDelta(tool_call=call, termination=termination if i == len(new_calls) - 1 else None)


def stream_parse(parser: TextParser, tokenizer: Any, chunks: Iterable[Sequence[int]], stop_ids: Sequence[int],
                 parse_all: Callable[[list[int]], ParsedResponse]) -> Iterator[ResponseDelta]:
    """Deltas for the ids of ``chunks``; ``parse_all`` is the renderer's one-shot parse, which
    ends the stream."""
    ends = {*stop_ids, tokenizer.eos_token_id}
    ids: list[int] = []
    shown = _Shown()
    for chunk in chunks:
        ids.extend(chunk)
        if not ids or ids[-1] in ends:
            continue  # the end of the turn: the one-shot parse below says what it ends
        try:
            text = tokenizer.decode(ids, skip_special_tokens=False)
        except Exception:  # noqa: BLE001 - garbage ids: the one-shot parse at the end reports them
            continue
        # A character cut between ids decodes as U+FFFD until its last byte arrives.
        text = text.rstrip("\ufffd")
        yield from shown.grow(_certain(parser, text))
    final = parse_all(ids)
    yield from shown.grow(final, final.termination)
