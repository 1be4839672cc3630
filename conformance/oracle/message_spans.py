"""Where each message's own tokens are in a render: attribution runs and message bodies.

A template has a generation prompt only for the assistant role, so the header of a user, system or
tool message (``<|im_start|>user\\n``) cannot be found the way an assistant turn's start is. It is
found by behaviour instead, the same way for the oracle (goldens) and for a renderer (its own
renders), so the two can be compared:

* a message's *run* is the tokens that appeared when it was added (see :func:`attribution_runs`);
* its *body* starts at the first token that changes when its content is replaced by a
  private-use probe, and ends after the last end-of-turn token of its run (or at the run's end
  where none is in it: Mistral's ``[/INST]``, gpt-oss's ``<|end|>`` for a user message). Template
  text after the end-of-turn token (Qwen's ``\\n``) is not part of the body.

Guarantee: every span returned lies inside its message's run; anything that cannot be proven so
(the template rewrites earlier messages, or renders the content outside the message's tokens) is
returned as a reason string, never as a guessed span.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["PROBE", "attribution_runs", "body_span", "first_divergence", "message_bodies", "runs_from_owners"]

PROBE = "\ue003"  # private use: in no real text; \ue000-\ue002 are the oracle's other markers


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int:
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return k
    return min(len(a), len(b))


def attribution_runs(n_messages: int, full_ids: Sequence[int], render_prefix: Callable[[int], list[int]]) -> list[list[int]] | str:
    """Runs ``[message_index, start, end)`` over ``full_ids``: the tokens that appeared when
    message ``i`` was added, from renders of ``messages[:k]`` (``render_prefix(k)``, no generation
    prompt). A reason string when some prefix render is not a token prefix of the next."""
    runs: list[list[int]] = []
    prev = 0
    for k in range(1, n_messages + 1):
        try:
            ids = list(full_ids) if k == n_messages else render_prefix(k)
        except Exception as e:  # noqa: BLE001 - a refusal is a recorded fact, not a crash
            return f"messages[:{k}] cannot be rendered alone: {e}"
        if len(ids) > len(full_ids) or list(full_ids[: len(ids)]) != ids:
            d = first_divergence(ids, full_ids)
            return f"render of messages[:{k}] is not a token prefix of the full render (diverges at token {d})"
        if len(ids) < prev:
            return f"render of messages[:{k}] is shorter than messages[:{k - 1}]"
        if len(ids) > prev:
            runs.append([k - 1, prev, len(ids)])
        prev = len(ids)
    return runs


def runs_from_owners(owners: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per message, the extent ``[first, last + 1)`` of the tokens a renderer attributes to it."""
    out: dict[int, tuple[int, int]] = {}
    for t, m in enumerate(owners):
        if m < 0:
            continue
        s, _ = out.get(m, (t, t))
        out[m] = (s, t + 1)
    return out


def body_span(
    messages: Sequence[dict[str, Any]],
    k: int,
    full_ids: Sequence[int],
    run: tuple[int, int],
    render_full: Callable[[list[dict[str, Any]]], list[int]],
    stop_ids: Sequence[int],
) -> tuple[int, int] | str:
    """The body of non-assistant message ``k`` (see the module docstring), or why it has none."""
    start, end = run
    probe = json.loads(json.dumps(list(messages)))
    probe[k]["content"] = PROBE
    try:
        other = render_full(probe)
    except Exception as e:  # noqa: BLE001
        return f"message {k}: the conversation cannot be rendered with a probe in its content: {e}"
    d = first_divergence(full_ids, other)
    if not start <= d < end:
        return f"message {k}: its content changes token {d}, outside its own tokens [{start}, {end})"
    stops = set(stop_ids)
    closing = [j for j in range(d, end) if full_ids[j] in stops]
    return (d, closing[-1] + 1 if closing else end)


def message_bodies(
    messages: Sequence[dict[str, Any]],
    full_ids: Sequence[int],
    runs: dict[int, tuple[int, int]] | str,
    render_full: Callable[[list[dict[str, Any]]], list[int]],
    stop_ids: Sequence[int],
) -> list[tuple[int, int]] | str:
    """The body of every non-assistant message, in message order, from ``runs`` (each message's
    token extent, or why there is none); or the first reason one cannot be proven."""
    if isinstance(runs, str):
        return f"no token belongs to one message alone: {runs}"
    out = []
    for k, m in enumerate(messages):
        if m["role"] == "assistant":
            continue
        if k not in runs:
            return f"message {k} adds no tokens of its own to the render"
        span = body_span(messages, k, full_ids, runs[k], render_full, stop_ids)
        if isinstance(span, str):
            return span
        out.append(span)
    return out
