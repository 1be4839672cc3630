"""Kimi K2.5/K2.6 tool declarations: the TypeScript-style ``tools_ts_str`` the template reads.

Upstream's tokenizer (remote code that the snapshots do not ship) does not hand ``tools`` to the
chat template as JSON: it sorts every dict's keys, converts the list into a TypeScript namespace
and passes it as ``tools_ts_str``; only when that conversion fails does the template fall back to
compact JSON. The oracle must do the same or every tool case diverges from upstream. This module
is written from that behaviour (what the output looks like, including its quirks), and
``tests/test_tool_declarations.py`` checks it against an independent implementation (Prime
Intellect's Kimi renderer) on every tool list of the corpus.

    # Tools

    ## functions
    namespace functions {
    // Get the weather
    type get_weather = (_: {
      // City name
      city: string,
      unit?: "c" | "f"
    }) => any;
    }

Rules (upstream's, quirks kept): properties are listed required first, each group by name;
``integer`` is written ``number``; a description becomes ``//`` lines above what it describes,
constraints (string ``maxLength``/``minLength``/``pattern``, number ``maximum``/``minimum``, array
``minItems``/``maxItems``) one ``// k: v`` line; a default is ``// Default: ...`` with Python's
``repr`` for numbers and booleans (``True``) and JSON otherwise; enum strings are quoted without
escaping; ``$defs`` become ``interface`` blocks and a ``"#"`` self reference names the root
``parameters``. Anything else raises :class:`ToolDeclarationError` (upstream then falls back to
JSON, and so does :func:`tools_ts_str`).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ToolDeclarationError", "encode_tools_typescript", "tools_ts_str", "deep_sorted"]

_INDENT = "  "
_CONSTRAINTS = {"string": ("maxLength", "minLength", "pattern"), "number": ("maximum", "minimum"),
                "integer": ("maximum", "minimum"), "array": ("minItems", "maxItems")}
_UNION_NAMES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean", "null": "null",
                "object": "{}", "array": "Array<any>"}


class ToolDeclarationError(ValueError):
    """A tool schema this encoding does not support (upstream then declares the tools as JSON)."""


def deep_sorted(value: Any) -> Any:
    """Every dict's keys sorted, recursively (lists keep their order), as upstream does first."""
    if isinstance(value, dict):
        return {k: deep_sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [deep_sorted(v) for v in value]
    return value


def _comment(text: str, indent: str = "") -> str:
    return "\n".join(f"{indent}// {line}" if line else "" for line in text.split("\n"))


class _Defs:
    """``$defs`` met while walking one function's parameters, and whether ``#`` was referenced."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self.self_ref = False

    def name_of(self, ref: str) -> str:
        if ref == "#":
            self.self_ref = True
            return "parameters"
        if ref.startswith("#/$defs/"):
            name = ref.split("/")[-1]
            if name not in self.schemas:
                raise ToolDeclarationError(f"reference not found: {ref}")
            return name
        raise ToolDeclarationError(f"unsupported reference {ref!r}")


def _kind(schema: Any) -> str:
    if isinstance(schema, bool):
        return "bool"
    if not isinstance(schema, dict):
        raise ToolDeclarationError(f"not a JSON schema: {schema!r}")
    if "$ref" in schema:
        return "ref"
    if "anyOf" in schema:
        return "anyOf"
    if "enum" in schema:
        return "enum"
    if "type" in schema:
        t = schema["type"]
        return "union" if isinstance(t, list) else t if t in ("object", "array") else "scalar"
    if schema == {}:
        return "any"
    raise ToolDeclarationError(f"invalid JSON schema: {schema!r}")


def _doc(schema: Any, indent: str) -> str:
    """The comment lines written above a value of this schema (each ending in a newline)."""
    if not isinstance(schema, dict) or _kind(schema) in ("bool", "any"):
        return ""
    lines = []
    if schema.get("description"):
        lines.append(_comment(schema["description"], indent))
    kind = _kind(schema)
    allowed = _CONSTRAINTS.get(schema["type"], ()) if kind in ("scalar", "array") else ()
    constraints = sorted((k, schema[k]) for k in allowed if k in schema)
    if constraints:
        lines.append(f"{indent}// " + ", ".join(f"{k}: {v}" for k, v in constraints))
    return "".join(line + "\n" for line in lines)


def _check_enum(schema: dict[str, Any]) -> None:
    if "type" not in schema:
        return
    t = schema["type"]
    if isinstance(t, list):
        if len(t) == 2 and "null" in t:
            t = t[0] if t[0] != "null" else t[1]
        elif len(t) == 1:
            t = t[0]
        else:
            raise ToolDeclarationError(f"enum type {t} is not supported")
    checks = {"string": lambda v: isinstance(v, str), "number": lambda v: isinstance(v, (int, float)),
              "integer": lambda v: isinstance(v, int), "boolean": lambda v: isinstance(v, bool)}
    ok = checks.get(t)
    for v in schema["enum"]:
        if v is not None and ok is not None and not ok(v):
            raise ToolDeclarationError(f"enum value {v!r} is not a {t}")


def _type(schema: Any, indent: str, defs: _Defs | None) -> str:
    """A schema written as a TypeScript type at ``indent`` (registering ``$defs`` on the way)."""
    kind = _kind(schema)
    if kind == "bool":
        return "any" if schema else "null"
    if kind == "any":
        return "any"
    if kind == "ref":
        if defs is None:
            raise ToolDeclarationError("$ref outside a function's parameters")
        return defs.name_of(schema["$ref"])
    if kind == "anyOf":
        return " | ".join(_type(s, indent, defs) for s in schema["anyOf"])
    if kind == "enum":
        _check_enum(schema)
        return " | ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in schema["enum"])
    if kind == "union":
        try:
            return " | ".join(_UNION_NAMES[t] for t in schema["type"])
        except KeyError as e:
            raise ToolDeclarationError(f"unknown type {e.args[0]!r}") from None
    if kind == "array":
        items = schema.get("items") or {}
        doc = _doc(items, indent + _INDENT)
        if doc:
            return f"Array<\n{doc}{indent}{_INDENT}{_type(items, indent + _INDENT, defs)}\n{indent}>"
        return f"Array<{_type(items, indent, defs)}>"
    if kind == "object":
        return _object(schema, indent, defs)
    t = schema["type"]
    return "number" if t == "integer" else str(t)


def _field(name: str, schema: Any, optional: bool, indent: str, defs: _Defs | None) -> str:
    text = _doc(schema, indent)
    default = schema.get("default") if isinstance(schema, dict) else None
    if default is not None:
        shown = repr(default) if isinstance(default, (int, float, bool)) else json.dumps(default, ensure_ascii=False)
        text += f"{indent}// Default: {shown}\n"
    return f"{text}{indent}{name}{'?' if optional else ''}: {_type(schema, indent, defs)}"


def _fields(schema: dict[str, Any], indent: str, defs: _Defs | None, *, declared_order: bool = False) -> list[str]:
    props = schema.get("properties") or {}
    required = set(schema.get("required", []))
    names = list(props)
    if not declared_order:
        names = sorted(n for n in names if n in required) + sorted(n for n in names if n not in required)
    return [_field(n, props[n], n not in required, indent, defs) for n in names]


def _object(schema: dict[str, Any], indent: str, defs: _Defs | None) -> str:
    if not schema:
        return "{}"
    if "$defs" in schema and defs is not None:
        defs.schemas.update(schema["$defs"])
    extra = schema.get("additionalProperties")
    parts = _fields(schema, indent + _INDENT, defs) if "properties" in schema else []
    if extra is not None:
        if extra is True:
            ap = "any"
        elif extra is False:
            ap = "never"
        elif isinstance(extra, dict):
            ap = _type(extra, indent + _INDENT, defs)
        else:
            raise ToolDeclarationError(f"unknown additionalProperties: {extra!r}")
        parts.append(f"{indent}{_INDENT}[k: string]: {ap}")
    if not parts:
        return "{}"
    return "{\n" + ",\n".join(parts) + "\n" + indent + "}"


def _function(fn: dict[str, Any]) -> str:
    defs = _Defs()
    params = fn.get("parameters") or {}
    params_type = _object(params, "", defs) if isinstance(params, dict) else _type(params, "", defs)
    interfaces = []
    if defs.self_ref:
        body = ",\n".join(_fields(params, _INDENT, defs, declared_order=True))
        interfaces.append(f"interface parameters {{{chr(10) + body + chr(10) if body else ''}}}")
    for name, schema in dict(defs.schemas).items():
        desc = schema.get("description", "") if isinstance(schema, dict) else ""
        interfaces.append(f"{_comment(desc) + chr(10) if desc else ''}interface {name} {_type(schema, '', defs)}")
    name = fn.get("name", "function")
    signature = f"type {name} = (_: {'parameters' if defs.self_ref else params_type}) => any;"
    description = fn.get("description")
    return "\n".join(p for p in ("\n".join(interfaces), _comment(description) if description else "", signature) if p)


def encode_tools_typescript(tools: list[dict[str, Any]]) -> str:
    """The ``# Tools`` namespace for OpenAI-style tools (non-function tools are skipped). Keys are
    taken as given: sort them first with :func:`deep_sorted`, as upstream does."""
    functions = [_function(t["function"]) for t in tools or [] if t.get("type") == "function" and t.get("function")]
    if not functions:
        return ""
    return "# Tools\n\n## functions\nnamespace functions {\n" + "\n".join(functions) + "\n}\n"


def tools_ts_str(tools: list[dict[str, Any]] | None) -> str | None:
    """What upstream's tokenizer passes as ``tools_ts_str``: the namespace of the deep-sorted
    tools, or None (no tools, or a schema the encoding does not support: JSON fallback)."""
    if not tools:
        return None
    try:
        return encode_tools_typescript(deep_sorted(list(tools))) or None
    except (ToolDeclarationError, KeyError, TypeError, AttributeError):
        return None
