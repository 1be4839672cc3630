"""Kimi's TypeScript tool declarations (``tools_ts_str``), checked against an independent
implementation: Prime Intellect's Kimi K2.5 renderer carries its own port of upstream's encoder.
Every tool list of the corpus and schemas that exercise the rarer rules must come out the same,
except where Prime's port departs from upstream: it writes boolean defaults and boolean/null enum
values as JSON (``true``, ``null``) where upstream's encoder writes Python's ``True``/``None``."""

from __future__ import annotations

import pytest

from conformance.fixtures.cases import load_cases
from conformance.tool_declarations import ToolDeclarationError, deep_sorted, encode_tools_typescript, tools_ts_str

prime_kimi = pytest.importorskip("renderers.kimi_k25", reason="Prime renderers (dev extra) is the independent implementation")

RARE = [
    {"type": "function", "function": {"name": "rare", "description": "Line one.\n\nLine three.", "parameters": {
        "type": "object", "required": ["b", "a"], "additionalProperties": False,
        "properties": {
            "a": {"type": "integer", "minimum": 1, "maximum": 9, "description": "an int", "default": 3},
            "b": {"type": "string", "maxLength": 5, "pattern": "^x", "default": "xy"},
            "c": {"type": "array", "items": {"type": "number", "description": "item doc"}, "minItems": 1},
            "d": {"type": ["string", "null"]},
            "e": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"k": {"type": "boolean", "default": 0.5}}}]},
            "f": {"enum": ["x", 1, 2.5]},
            "g": {"type": "object", "additionalProperties": {"type": "string"}},
            "h": {},
            "i": {"type": "array"},
            "j": {"$ref": "#/$defs/Thing"},
        },
        "$defs": {"Thing": {"type": "object", "description": "A thing.", "properties": {"name": {"type": "string"}}}},
    }}},
    {"type": "function", "function": {"name": "tree", "parameters": {
        "type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}, "label": {"type": "string"}},
        "required": ["label"]}}},
    {"type": "function", "function": {"name": "noparams", "description": "No parameters."}},
    {"type": "_plugin", "_plugin": {"name": "ignored"}},
]


def _corpus_tool_lists() -> list[tuple[str, list[dict]]]:
    return [(c.id, c.tools_list()) for c in load_cases() if c.tools]


@pytest.mark.parametrize("case_id, tools", _corpus_tool_lists() + [("rare-schemas", RARE)], ids=lambda x: x if isinstance(x, str) else "")
def test_typescript_declaration_equals_the_independent_implementation(case_id, tools):
    sorted_tools = deep_sorted(tools)
    assert encode_tools_typescript(sorted_tools) == prime_kimi._encode_tools_typescript(sorted_tools)


def test_python_spellings_where_prime_departs_from_upstream():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
        "flag": {"type": "boolean", "default": True}, "mode": {"enum": ["a", True, None]}}}}}]
    ours = tools_ts_str(tools)
    assert "// Default: True\n" in ours and 'mode?: "a" | True | None' in ours
    prime = prime_kimi._encode_tools_typescript(deep_sorted(tools))
    assert "// Default: true\n" in prime and 'mode?: "a" | true | null' in prime


def test_shape_of_a_declaration():
    ts = tools_ts_str([{"type": "function", "function": {"name": "get_weather", "description": "Get the weather", "parameters": {
        "type": "object", "properties": {"unit": {"enum": ["c", "f"]}, "city": {"type": "string", "description": "City name"}},
        "required": ["city"]}}}])
    assert ts == ("# Tools\n\n## functions\nnamespace functions {\n// Get the weather\ntype get_weather = (_: {\n"
                  "  // City name\n  city: string,\n  unit?: \"c\" | \"f\"\n}) => any;\n}\n")


def test_unsupported_schemas_fall_back_to_json():
    bad = [{"type": "function", "function": {"name": "x", "parameters": {"type": "object", "properties": {"a": {"nonsense": 1}}}}}]
    with pytest.raises(ToolDeclarationError):
        encode_tools_typescript(bad)
    assert tools_ts_str(bad) is None  # the oracle then lets the template declare the tools as JSON
    assert tools_ts_str([]) is None and tools_ts_str(None) is None
    enum_mismatch = [{"type": "function", "function": {"name": "x", "parameters": {"type": "object", "properties": {
        "a": {"type": "string", "enum": ["ok", 3]}}}}}]
    assert tools_ts_str(enum_mismatch) is None


def _k2_thinking_declaration(text: str) -> str:
    head = "<|im_system|>tool_declare<|im_middle|>"
    assert text.startswith(head), text[:80]
    return text[len(head):text.index("<|im_end|>")]


@pytest.mark.parametrize("case_id, tools", _corpus_tool_lists(), ids=lambda x: x if isinstance(x, str) else "")
def test_k2_thinking_goldens_declare_the_tools_with_their_keys_sorted(case_id, tools):
    """Kimi's tokenizer code sorts every dict's keys of the tools before it calls the template
    (registry: tool_declaration = "sorted_json"); the template then writes them as compact JSON.
    The goldens hold that, and so does an independent implementation: Prime's Kimi K2 renderer."""
    import json

    from conformance.fixtures.goldens import load_golden_record
    from conformance.fixtures.registry import get_model

    record = load_golden_record(get_model("moonshotai/Kimi-K2-Thinking"), "default", case_id)
    written = _k2_thinking_declaration(record["prompt"]["text"])
    assert written == json.dumps(deep_sorted(tools), ensure_ascii=False, separators=(",", ":"))
    prime_k2 = pytest.importorskip("renderers.kimi_k2")
    tok = get_model("moonshotai/Kimi-K2-Thinking").tokenizer()
    ids = prime_k2.KimiK2Renderer(tok).render_ids([{"role": "user", "content": "Hi"}], tools=tools, add_generation_prompt=True)
    assert _k2_thinking_declaration(tok.decode(ids, skip_special_tokens=False)) == written
