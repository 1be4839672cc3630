"""Where an assistant turn ends, for templates whose turns have no closing token of their own.

Most templates close an assistant turn with a token of their own (``<|im_end|>``, ``<|eot_id|>``):
the ids a model samples for a turn run from the end of its generation prompt through the first
end-of-turn id after it. GLM-5's template (registry ``turn_end = "next_message"``) writes no such
token: the role marker of the *next* message (``<|user|>``, ``<|observation|>``) closes the turn,
and the model, whose stop ids are exactly those markers, samples the marker to end its turn. The
sampled ids ``...answer<|user|>`` are then a prefix of the next turn's prompt. For such a template:

* a turn followed by another message ends at that message's marker, which must be an end-of-turn
  id written before that message's content. An assistant turn followed by a system message (whose
  ``<|system|>`` no sampler stops on) has no end a model could have sampled: that is a reason, not
  a guessed span;
* the final turn of a conversation ends with the marker the template writes for the message that
  would follow it in a rollout (:func:`continuation`: tool results after a turn that calls tools, a
  user message otherwise). A supervised example of a conversation ending with an assistant message
  is its full render followed by that marker, weighted like any end-of-turn id: without it every
  example would teach the model never to end its final answer, and with another id (an
  ``<|endoftext|>`` the template never writes) the trained ids are not what the next turn's
  prompt extends.

Both rules are found by rendering, never assumed: :func:`closing_position` reads the marker off a
render of the conversation continued by one more message. The oracle (goldens), the suite
(extension and bridge turns) and the reference renderers (supervised examples) all use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from conformance.oracle.message_spans import PROBE, first_divergence

__all__ = ["TURN_ENDS", "CONTINUATION_TEXT", "continuation", "with_probe", "closing_position", "final_closing_id"]

#: registry values of ``turn_end``: the template's own token closes a turn, or the next message's marker
TURN_ENDS = ("token", "next_message")
CONTINUATION_TEXT = "\ue004"  # private use: in no real text; PROBE (\ue003) is the probed render's content


def continuation(final: dict[str, Any], text: str = CONTINUATION_TEXT) -> dict[str, Any]:
    """The message that follows a final assistant message in a rollout: a tool result after a turn
    that calls tools (answering its first call), a user message otherwise."""
    calls = final.get("tool_calls") or []
    if calls:
        first = calls[0]
        return {"role": "tool", "tool_call_id": str(first.get("id") or "call_0"), "content": text}
    return {"role": "user", "content": text}


def with_probe(messages: Sequence[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """A copy of ``messages`` with message ``k``'s content replaced by the probe."""
    out = json.loads(json.dumps(list(messages)))
    out[k]["content"] = PROBE
    return out


def closing_position(own: Sequence[int], continued: Sequence[int], probed: Sequence[int], stop_ids: Sequence[int]) -> int | str:
    """Index in ``continued`` of the end-of-turn id that closes the last message of ``own``.

    ``own`` renders a conversation up to that message (or its generation prompt); ``continued``
    renders it with one more message, and ``probed`` the same with that message's content replaced
    by :data:`~conformance.oracle.message_spans.PROBE`. The closing id is the last end-of-turn id that
    ``continued`` writes before the new message's content starts (the new message's marker), and
    it must come after where ``continued`` departs from ``own``: where the new message starts, or
    earlier where the template rewrites the conversation for it (GLM drops the reasoning of a tool
    loop once a user message follows it). Otherwise a reason string: nothing a sampler stops on
    closes the turn (an assistant message followed by a system message)."""
    start = first_divergence(own, continued)
    content_at = first_divergence(continued, probed)
    stops = set(stop_ids)
    found = [j for j in range(start, content_at) if continued[j] in stops]
    if found:
        return found[-1]
    return (f"no end-of-turn id is written between the turn (token {start}) and the next message's content "
            f"(token {content_at}): no marker a sampler stops on closes it")


def final_closing_id(
    messages: Sequence[dict[str, Any]], full: Sequence[int], render: Callable[[list[dict[str, Any]]], list[int]], stop_ids: Sequence[int]
) -> int | str:
    """The end-of-turn id that closes the final assistant message of ``messages`` (rendered as
    ``full``): the marker ``render`` writes for its :func:`continuation`. A reason string when the
    continued conversation cannot be rendered or has no single closing id."""
    follow = [*json.loads(json.dumps(list(messages))), continuation(messages[-1])]
    try:
        continued = render(follow)
        probed = render(with_probe(follow, len(follow) - 1))
    except Exception as e:  # noqa: BLE001 - a refusal is a recorded fact
        return f"the conversation continued by a {follow[-1]['role']} message cannot be rendered: {e}"
    j = closing_position(full, continued, probed, stop_ids)
    return continued[j] if isinstance(j, int) else f"continued by a {follow[-1]['role']} message: {j}"
