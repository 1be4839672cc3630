"""Diff-friendly JSON: ``schema_version`` first, other keys sorted, 2-space indent, UTF-8, a final
newline, and short lists of scalars (a token ``[id, "piece"]``, a span ``[start, end]``) kept on
one line so a diff points at the exact token."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps"]


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _key_order(d: dict[str, Any]) -> list[str]:
    keys = sorted(d)
    if "schema_version" in d:
        keys.remove("schema_version")
        keys.insert(0, "schema_version")
    return keys


def _dump(v: Any, indent: int) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if _scalar(v):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        if not v:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v[k], indent + 1)}" for k in _key_order(v)]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(v, (list, tuple)):
        if not v:
            return "[]"
        if all(_scalar(x) for x in v):
            return json.dumps(list(v), ensure_ascii=False)
        return "[\n" + ",\n".join(inner + _dump(x, indent + 1) for x in v) + "\n" + pad + "]"
    raise TypeError(f"not JSON-serializable: {type(v).__name__}")


def dumps(value: Any) -> str:
    return _dump(value, 0) + "\n"
