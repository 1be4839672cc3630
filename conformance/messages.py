"""OpenAI-style chat messages: validation with errors that name the message index, and the
per-template conventions the oracle applies before calling a chat template.

Messages are plain dicts: ``role`` (system/user/assistant/tool), ``content`` (str, or None for an
assistant message that only calls tools), optional ``reasoning_content``, ``tool_calls``
(``[{"id", "type": "function", "function": {"name", "arguments"}}]`` with ``arguments`` a JSON
text or an object) and ``tool_call_id`` for tool results.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.errors import InvalidMessagesError
from conformance.images import validate_parts

__all__ = ["ROLES", "validate_messages", "tool_arguments_value", "normalize_tool_calls"]

ROLES = ("system", "user", "assistant", "tool")


def tool_arguments_value(arguments: Any, *, where: str) -> dict[str, Any]:
    """The arguments of a tool call as a JSON object (``dict``); a JSON text is parsed with
    ``parse_float`` kept exact, so ``1.0`` and ``1e-7`` compare as written."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str):
        raise InvalidMessagesError(f"{where}: tool-call arguments must be a JSON string or an object, got {type(arguments).__name__}")
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError as e:
        raise InvalidMessagesError(
            f"{where}: tool-call arguments are not valid JSON ({e.msg} at char {e.pos}): {arguments[:80]!r}"
        ) from None
    if not isinstance(value, dict):
        raise InvalidMessagesError(f"{where}: tool-call arguments must be a JSON object, got {type(value).__name__}")
    return value


def validate_messages(messages: Any, *, roles: Sequence[str] = ROLES, parts: bool = False) -> None:
    """Raise :class:`InvalidMessagesError` naming the first bad message index and the problem.

    ``roles``: the roles accepted (a family may add its own, e.g. Llama's ``ipython``, which is
    then validated like ``tool``). ``parts``: a user message's content may be a list of text and
    image parts (:mod:`conformance.images`); without it such content is refused by name, so a
    renderer that renders text only never drops an image silently."""
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise InvalidMessagesError(f"messages must be a list of dicts, got {type(messages).__name__}")
    if not messages:
        raise InvalidMessagesError("messages is empty")
    for i, m in enumerate(messages):
        where = f"message {i}"
        if not isinstance(m, dict):
            raise InvalidMessagesError(f"{where}: must be a dict, got {type(m).__name__}")
        role = m.get("role")
        if role not in roles:
            raise InvalidMessagesError(f"{where}: unknown role {role!r} (expected one of {', '.join(roles)})")
        content = m.get("content")
        if isinstance(content, list):
            if not parts:
                raise InvalidMessagesError(f"{where} ({role}): content is a list of parts (text and images); "
                                           "this renderer takes text content only")
            if role != "user":
                raise InvalidMessagesError(f"{where} ({role}): only user messages carry content parts (images)")
            validate_parts(content, where=where)
        elif role in ("system", "user", "tool", "ipython") and not isinstance(content, str):
            raise InvalidMessagesError(f"{where} ({role}): content must be a string, got {type(content).__name__}")
        if role == "assistant" and content is not None and not isinstance(content, str):
            raise InvalidMessagesError(f"{where} (assistant): content must be a string or None, got {type(content).__name__}")
        rc = m.get("reasoning_content")
        if rc is not None and not isinstance(rc, str):
            raise InvalidMessagesError(f"{where}: reasoning_content must be a string, got {type(rc).__name__}")
        calls = m.get("tool_calls")
        if calls is not None:
            if role != "assistant":
                raise InvalidMessagesError(f"{where} ({role}): only assistant messages carry tool_calls")
            if not isinstance(calls, list):
                raise InvalidMessagesError(f"{where}: tool_calls must be a list")
            for j, call in enumerate(calls):
                cwhere = f"{where} tool_calls[{j}]"
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise InvalidMessagesError(f"{cwhere}: needs function.name (a string)")
                tool_arguments_value(fn.get("arguments"), where=cwhere)
        if "trainable" in m and not isinstance(m["trainable"], bool):
            raise InvalidMessagesError(f"{where}: trainable must be True or False, got {m['trainable']!r}")
        if role == "tool" and not isinstance(m.get("tool_call_id", ""), str):
            raise InvalidMessagesError(f"{where} (tool): tool_call_id must be a string")
        if role == "assistant" and content is None and not calls:
            raise InvalidMessagesError(f"{where} (assistant): content is None and there are no tool_calls")


def normalize_tool_calls(calls: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Tool calls reduced to what a parse must recover: ``[{"name", "arguments": <JSON value>}]``."""
    out = []
    for j, call in enumerate(calls or []):
        fn = call.get("function", call)
        out.append({"name": fn["name"], "arguments": tool_arguments_value(fn.get("arguments", {}), where=f"tool_calls[{j}]")})
    return out
