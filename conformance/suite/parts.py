"""Where in the conversation a position of a template's ids lies: which message, which part of it.

A finding's signature names the change (what the renderer writes instead of the template) and,
through this, the part of the conversation the change sits in. One behaviour meets the
template's ids at different first pieces case by case (a default system prompt left out meets
it at the role word in one case, inside the date lines in another), but always in the same part:
the findings read the part to count such a behaviour once (``findings.region_of``).

The part is read off the golden, never off the renderer's ids: the goldens' ``full.attribution``
(the tokens that appeared when message ``i`` was added) gives the message, their message spans
(an assistant turn's trained tokens, another message's body) the zone within it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.fixtures.golden_record import Attribution, Golden, Render, Tokens

__all__ = ["part_at", "ZONES"]

#: A message's zones: ``header`` is what the template writes before the message's own text (a
#: role header; for the first message also the template's preamble: BOS, a default system prompt,
#: date lines, tool declarations), ``body`` its own text through its end-of-turn token, ``after``
#: the template's text after that (Qwen's ``\n`` after ``<|im_end|>``).
ZONES = ("header", "body", "after")


def part_at(golden: Golden, messages: Sequence[dict[str, Any]], expected: Sequence[int], at: int) -> dict[str, Any] | None:
    """The part of the conversation that position ``at`` of ``expected`` (a prompt, a full render, a
    supervised example or a per-turn example of the golden's case) lies in:
    ``{"message": i, "role": ..., "zone": one of ZONES or "", "tool_calls": bool}``.

    Guarantee: a part is returned only where ``expected`` holds the golden full render's ids
    through ``at`` (so position ``at`` is the full render's position ``at``) and the golden
    attributes that position to a message; the zone is "" where the golden's message spans are
    not derivable. None otherwise (a generated conversation's minimal golden, a template that
    rewrites earlier messages, a prompt that parts from the full render before ``at``): never a
    guessed part. A generation prompt's header is the header of the assistant message that
    follows it in the full render; where ``at`` is past the end of ``expected`` (the renderer
    writes more), the part is that of ``expected``'s last position."""
    full = golden.full
    if not isinstance(full, Render) or not isinstance(full.attribution, Attribution):
        return None
    ids = list(full.ids) + (list(golden.supervised_tail.ids) if isinstance(golden.supervised_tail, Tokens) else [])
    if at >= len(expected) > 0:
        # The renderer writes more where ``expected`` ends: the place is the end of its last token's
        # part (a generation prompt's end is the header of the assistant message it opens).
        at = len(expected) - 1
    if at >= len(ids) or list(expected[: at + 1]) != ids[: at + 1]:
        return None
    owner = next((m for m, start, end in full.attribution.runs if start <= at < end), None)
    if owner is None:
        # Past the full render: a supervised example's closing marker (GLM-5) closes the last message.
        owner = len(messages) - 1 if at >= len(full.ids) and messages else None
    if owner is None or owner >= len(messages):
        return None
    spans = golden.message_spans([str(m.get("role", "")) for m in messages])
    zone = ""
    if isinstance(spans, dict) and owner in spans:
        start, end = spans[owner]
        zone = ZONES[0] if at < start else ZONES[1] if at < end else ZONES[2]
    message = messages[owner]
    return {"message": owner, "role": str(message.get("role", "")), "zone": zone, "tool_calls": bool(message.get("tool_calls"))}
