"""Tools declared by a conversation prefix (tinker-cookbook's ``create_conversation_prefix_with_tools``).

A renderer whose callers cannot pass ``tools=`` with every call (a dataset of messages, a
rollout that stores only messages) declares the tools once, in messages at the head of the
conversation. The reference renderers' prefix is one system message that carries the tools
themselves (key :data:`DECLARES`) beside the system prompt; every method that takes messages reads
it back as ``tools=`` and that system prompt (none, where the prompt is empty), so the family writes
the declaration exactly where and as its template does: before the first user message (Llama 3.1),
in the system block (Qwen), before the last user message (Mistral).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.errors import InvalidMessagesError

__all__ = ["DECLARES", "prefix_with_tools", "declared_tools"]

#: The key of the prefix's system message that holds the declared tools.
DECLARES = "declares_tools"


def prefix_with_tools(tools: Sequence[dict[str, Any]], system_prompt: str = "") -> list[dict[str, Any]]:
    """The messages that start a conversation declaring ``tools`` (OpenAI-style, as ``tools=``
    takes them) with ``system_prompt`` (empty: no system message)."""
    if not isinstance(system_prompt, str):
        raise InvalidMessagesError(f"system_prompt must be a string, got {type(system_prompt).__name__}")
    if not tools:
        return [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [{"role": "system", "content": system_prompt, DECLARES: [dict(t) for t in tools]}]


def declared_tools(messages: Sequence[dict[str, Any]], tools: Any) -> tuple[list[dict[str, Any]], Any, int]:
    """``messages`` and ``tools`` as the template takes them, and how many leading messages the
    prefix took away (1 where its system prompt was empty, else 0: message indices shift by it)."""
    if not messages or not isinstance(messages[0], dict) or DECLARES not in messages[0]:
        return list(messages), tools, 0
    head = messages[0]
    if head.get("role") != "system":
        raise InvalidMessagesError(f"message 0 ({head.get('role')}): only a system message declares tools ({DECLARES!r})")
    if tools:
        raise InvalidMessagesError("message 0 declares tools and tools= is given as well: declare them once")
    rest = list(messages[1:])
    if head.get("content"):
        return [{k: v for k, v in head.items() if k != DECLARES}, *rest], head[DECLARES], 0
    return rest, head[DECLARES], 1
