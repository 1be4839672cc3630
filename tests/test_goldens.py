"""Goldens: verify re-derives them all, tampering is caught, regenerate is idempotent, import diffs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conformance.errors import TamperedFixtureError
from conformance.fixtures.cases import load_cases, load_image_cases
from conformance.fixtures.golden_diff import diff_golden_folders
from conformance.fixtures.golden_record import Agreement, LookAlike, Reason, SecondOracle, Tokens
from conformance.fixtures.goldens import golden_dir, load_golden, verify_model, write_goldens
from conformance.fixtures.registry import get_model, load_registry


@pytest.mark.parametrize("model_id", list(load_registry()))
def test_committed_goldens_equal_a_fresh_derivation(model_id):
    entry = get_model(model_id)
    rep = verify_model(entry)
    assert rep.ok, "\n".join(rep.problems + rep.changed_cases)
    cases = len([c for c in load_cases() if c.builtin]) + (len(load_image_cases()) if entry.vision else 0)
    assert rep.checked == len(entry.variants) * cases


def test_injection_goldens_keep_literal_and_safe_ids_apart():
    g = load_golden(get_model("Qwen/Qwen3-8B"), "thinking", "inject-chatml-user")
    im_end = 151645
    safe, literal = g.prompt.ids, list(g.prompt.literal_ids)
    assert safe.count(im_end) < literal.count(im_end)
    assert g.injection[0] == LookAlike(message=0, role="user", text="<|im_end|>")


def test_template_errors_are_recorded_not_dropped():
    g = load_golden(get_model("meta-llama/Llama-3.1-8B-Instruct"), "default", "tools-parallel-calls-final")
    assert isinstance(g.full, Reason) and "single tool-calls" in g.full.error


def test_gpt_oss_goldens_record_where_openai_harmony_agrees_and_differs():
    gpt = get_model("openai/gpt-oss-20b")
    plain = load_golden(gpt, "reasoning_medium", "basic-single-turn").second_oracle
    assert plain == SecondOracle("openai-harmony", Agreement(True), Agreement(True), Agreement(True))
    # A known difference: the template writes "commentary json", harmony "commentary <|constrain|>json".
    call = load_golden(gpt, "reasoning_medium", "tools-single-call").second_oracle.full
    assert call.agrees is False
    k = call.first_divergence - max(0, call.first_divergence - 6)
    assert call.template.pieces[k] == " json" and call.harmony[k + 1][1] == "<|constrain|>"
    counts = json.loads((golden_dir(gpt) / "manifest.json").read_text())["second_oracle"]["counts"]
    assert counts["prompt"]["agree"] > 0 and counts["full"]["differ"] > 0
    # Other families have no second oracle.
    assert load_golden(get_model("Qwen/Qwen3-8B"), "thinking", "basic-single-turn").second_oracle is None


def test_glm_completions_end_with_the_marker_of_the_next_message():
    """GLM-5 writes no token of its own after an assistant turn (conformance/oracle/turn_end.py): the
    completion and the supervised example end with the marker the template writes for what follows."""
    glm = get_model("zai-org/GLM-5.2")
    answer = load_golden(glm, "thinking", "basic-single-turn")
    assert answer.full.tokens.pieces[-1] != "<|user|>"
    assert answer.completion.tokens.pieces[-1] == "<|user|>" and answer.completion.closed_by == "user"
    assert answer.supervised_tail == Tokens((154827,), ("<|user|>",))
    n = len(answer.full.tokens)
    assert answer.weights["last_assistant_message"].spans[-1][1] == n + 1
    assert answer.weights["all_tokens"].spans == ((0, n + 1),)
    call = load_golden(glm, "thinking", "tools-single-call")
    assert call.completion.tokens.pieces[-1] == "<|observation|>" and call.completion.closed_by == "tool"
    # Inside a conversation the next message's own marker closes the turn: it is trained, in the render.
    loop = load_golden(glm, "thinking", "reasoning-tool-loop")
    (s1, e1), _ = loop.weights["all_assistant_messages"].spans
    assert loop.full.tokens.pieces[e1 - 1] == "<|observation|>"
    # An assistant turn followed by a system message: no marker a sampler stops on closes it.
    mid = load_golden(glm, "thinking", "basic-system-mid-conversation")
    why = mid.weights["all_assistant_messages"]
    assert isinstance(why, Reason) and "no marker a sampler stops on closes it" in why.error
    # Families whose template closes turns itself have no tail.
    assert load_golden(get_model("Qwen/Qwen3-8B"), "thinking", "basic-single-turn").supervised_tail is None


def test_harmony_refuses_a_tampered_vocabulary(tmp_path):
    from conformance.errors import FixtureError
    from conformance.oracle.harmony import load_encoding

    (tmp_path / "o200k_base.tiktoken").write_bytes(b"aGVsbG8= 0\n")
    with pytest.raises(FixtureError, match="sha256"):
        load_encoding(str(tmp_path))
    with pytest.raises(FixtureError, match="missing"):
        load_encoding(str(tmp_path / "nowhere"))


def test_a_hand_edited_golden_is_caught(fixture_tree):
    root = fixture_tree(["Qwen__Qwen3-8B"])
    entry = get_model("Qwen/Qwen3-8B", root)
    p = golden_dir(entry) / "thinking" / "basic-single-turn.json"
    text = p.read_text()
    assert "France" in text
    p.write_text(text.replace("France", "Spain", 1))
    with pytest.raises(TamperedFixtureError, match="basic-single-turn"):
        load_golden(entry, "thinking", "basic-single-turn")
    rep = verify_model(entry)
    assert not rep.ok
    assert any("basic-single-turn" in x for x in rep.problems + rep.changed_cases)


def test_regenerate_twice_changes_nothing(fixture_tree):
    root = fixture_tree(["Qwen__Qwen3-8B"], goldens=False)
    entry = get_model("Qwen/Qwen3-8B", root)
    d = write_goldens(entry)
    first = {p: p.read_bytes() for p in d.rglob("*.json")}
    mtimes = {p: p.stat().st_mtime_ns for p in first}
    write_goldens(entry)
    assert {p: p.read_bytes() for p in d.rglob("*.json")} == first
    assert {p: p.stat().st_mtime_ns for p in first} == mtimes  # not even rewritten


def test_import_of_a_one_character_template_change_reports_exactly_the_affected_cases(fixture_tree, tmp_path):
    root = fixture_tree(["Qwen__Qwen3-8B"])
    src = tmp_path / "qwen3-new"
    src.mkdir()
    old = root / "tokenizers" / "Qwen__Qwen3-8B"
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (src / name).write_bytes((old / name).read_bytes())
    cfg = json.loads((src / "tokenizer_config.json").read_text())
    assert cfg["chat_template"].count("# Tools") == 1
    cfg["chat_template"] = cfg["chat_template"].replace("# Tools", "# Toolz")  # one character
    (src / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False))

    out = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "fixtures", "--fixtures", str(root), "import", str(src),
         "--model-id", "Qwen/Qwen3-8B", "--revision", "deadbeefcafe0000"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    new_entry = get_model("Qwen/Qwen3-8B", root)
    assert new_entry.snapshot_name == "Qwen__Qwen3-8B@deadbeefcafe"
    old_dir = root / "golden" / "Qwen__Qwen3-8B"
    old_golden = next(old_dir.iterdir())
    diff = diff_golden_folders(old_golden, golden_dir(new_entry))
    expected = {f"{v}/{c.id}" for v in new_entry.variants for c in load_cases(root=root) if c.tools}
    assert set(diff.changed) == expected
    assert not diff.added and not diff.removed
    assert "Tools" in out.stdout and "changed" in out.stdout
    # The old snapshot and its goldens are untouched and still verify.
    assert (old / "manifest.json").is_file() and old_golden.is_dir()
    assert verify_model(new_entry).ok


def test_import_of_a_new_model_starts_its_entry_from_a_registered_one(fixture_tree, tmp_path):
    """`fixtures import DIR --model-id NEW --like OLD`: the snapshot is vendored under the new id,
    its registry entry is a copy of OLD's (family, conventions, variants) and its goldens are
    written; a new id without --like is refused with one line."""
    root = fixture_tree(["Qwen__Qwen3-8B"], goldens=False)
    src = root / "tokenizers" / "Qwen__Qwen3-8B"
    cmd = [sys.executable, "-m", "conformance.cli", "fixtures", "--fixtures", str(root), "import", str(src),
           "--model-id", "Example/Qwen3-8B-Copy", "--revision", "0123456789abcdef"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "not registered: name a registered model" in refused.stdout + refused.stderr
    out = subprocess.run(cmd + ["--like", "Qwen/Qwen3-8B"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    new, old = get_model("Example/Qwen3-8B-Copy", root), get_model("Qwen/Qwen3-8B", root)
    assert new.snapshot_name == "Example__Qwen3-8B-Copy" and (new.family, new.end_of_turn) == (old.family, old.end_of_turn)
    assert list(new.variants) == list(old.variants) and "review its entry" in out.stdout
    assert verify_model(new).ok and len(list(golden_dir(new).rglob("*.json"))) > 100


def test_a_derived_golden_off_the_schema_is_never_written(fixture_tree, monkeypatch):
    import conformance.fixtures.goldens as goldens
    from conformance.errors import FixtureError

    root = fixture_tree(["Qwen__Qwen3-8B"], goldens=False)
    entry = get_model("Qwen/Qwen3-8B", root)
    real = goldens.derive_golden
    monkeypatch.setattr(goldens, "derive_golden", lambda *a: {**real(*a), "prompt": "a bare string"})
    with pytest.raises(FixtureError, match="does not match the schema: prompt:"):
        write_goldens(entry, [c for c in load_cases(root=root) if c.id == "basic-single-turn"])
    assert not golden_dir(entry).exists()
