"""The conversation corpus: schema, coverage, validation errors, extra case folders."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest

from conformance.errors import FixtureError, InvalidMessagesError
from conformance.fixtures.cases import case_schema, load_cases
from conformance.fixtures.paths import fixtures_root
from conformance.messages import validate_messages

CASES = load_cases()


def test_there_are_at_least_60_cases_with_unique_ids():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("path", sorted((fixtures_root() / "conversations").glob("*.json")), ids=lambda p: p.name)
def test_every_case_file_validates_against_the_schema(path):
    jsonschema.Draft202012Validator(case_schema()).validate(json.loads(path.read_text(encoding="utf-8")))


def test_the_corpus_covers_what_the_registry_promises():
    tags = Counter(t for c in CASES for t in c.tags)
    for tag in ("system", "no-system", "reasoning", "tools", "tool-call", "parallel", "consecutive",
                "tool-response", "json-types", "empty-content", "whitespace", "seams", "cjk", "emoji",
                "rtl", "combining", "look-alike", "long", "prompt-only"):
        assert tags[tag] >= 1, tag
    assert max(sum(m["role"] == "user" for m in c.messages) for c in CASES) >= 20
    assert max(len(m.get("content") or "") for c in CASES for m in c.messages) >= 10_000
    texts = " ".join(m.get("content") or "" for c in CASES for m in c.messages)
    for look_alike in ("<|im_end|>", "<|end|>", "<think>", "[INST]"):
        assert look_alike in texts
    args = " ".join(tc["function"]["arguments"] for c in CASES for m in c.messages for tc in m.get("tool_calls", []))
    for literal in ("true", "false", "null", "1.0", "1e-7", "ü"):
        assert literal in args
    assert any(m.get("reasoning_content") for c in CASES for m in c.messages[:-1])


@pytest.mark.parametrize(
    "messages, match",
    [
        ([{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}], r"message 1: unknown role 'robot'"),
        ([{"role": "user", "content": 42}], r"message 0 \(user\): content must be a string, got int"),
        ([{"role": "user", "content": ["hi"]}], r"message 0 \(user\): content is a list of parts \(text and images\)"),
        ([{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}],
         r"message 1 tool_calls\[0\]: tool-call arguments are not valid JSON"),
        ([{"role": "assistant", "content": None}], r"message 0 \(assistant\): content is None and there are no tool_calls"),
        ([], r"messages is empty"),
    ],
)
def test_bad_messages_name_the_index_and_the_problem(messages, match):
    with pytest.raises(InvalidMessagesError, match=match):
        validate_messages(messages)


def test_extra_case_folders_are_loaded_and_validated(tmp_path, monkeypatch):
    good = {"schema_version": 1, "cases": [{"id": "team-prod-1", "description": "A production conversation.", "tags": ["prod"],
                                           "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}]}
    (tmp_path / "prod.json").write_text(json.dumps(good))
    monkeypatch.setenv("CONFORMANCE_CASES", str(tmp_path))
    from conformance.fixtures.cases import extra_case_dirs

    cases = load_cases(extra_case_dirs())
    extra = [c for c in cases if not c.builtin]
    assert [c.id for c in extra] == ["team-prod-1"]

    bad = dict(good, cases=[dict(good["cases"][0], id="team-prod-2", messages=[{"role": "user", "content": 3}])])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(FixtureError, match=r"bad.json.*team-prod-2"):
        load_cases(extra_case_dirs())


def test_duplicate_case_ids_across_folders_are_rejected(tmp_path):
    dup = {"schema_version": 1, "cases": [{"id": CASES[0].id, "description": "Same id as a builtin case.", "tags": [],
                                          "messages": [{"role": "user", "content": "hi"}]}]}
    (tmp_path / "dup.json").write_text(json.dumps(dup))
    with pytest.raises(FixtureError, match="duplicate case id"):
        load_cases([tmp_path])
