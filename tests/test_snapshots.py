"""Tokenizer snapshots: manifests, tamper detection, offline loading, the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conformance.errors import FixtureError, TamperedFixtureError, UnknownModelError
from conformance.fixtures.registry import get_model, load_registry
from conformance.fixtures.snapshots import load_snapshot, load_tokenizer

MODELS = list(load_registry())


@pytest.mark.parametrize("model_id", MODELS)
def test_every_registered_snapshot_verifies_and_loads(model_id):
    entry = get_model(model_id)
    snap = entry.snapshot()
    m = snap.manifest
    assert m["model_id"] == model_id
    assert m["fidelity"] in ("exact", "exact-template", "unpinned")
    assert m["license"] and m["upstream_revision"]
    assert (snap.path / "SOURCE.md").is_file()
    tok = load_tokenizer(snap)
    for t in entry.end_of_turn:
        assert tok.convert_tokens_to_ids(t) not in (None, tok.unk_token_id)


@pytest.mark.parametrize("model_id", ["meta-llama/Llama-3.1-8B-Instruct", "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"])
def test_licenses_that_require_it_ship_their_license_and_notice(model_id):
    snap = get_model(model_id).snapshot()
    assert {"LICENSE", "NOTICE"} <= set(snap.manifest["files"])


@pytest.mark.parametrize("model_id", ["moonshotai/Kimi-K2-Thinking", "moonshotai/Kimi-K2.5", "moonshotai/Kimi-K2.6",
                                      "zai-org/GLM-5.1", "zai-org/GLM-5.2"])
def test_families_whose_license_asks_for_it_ship_their_license(model_id):
    snap = get_model(model_id).snapshot()
    assert "LICENSE" in snap.manifest["files"] and (snap.path / "LICENSE").is_file()


def test_one_flipped_byte_in_a_snapshot_is_detected_and_named(fixture_tree):
    root = fixture_tree(["Qwen__Qwen3-8B"], goldens=False)
    p = root / "tokenizers" / "Qwen__Qwen3-8B" / "tokenizer_config.json"
    data = bytearray(p.read_bytes())
    data[100] ^= 0x01
    p.write_bytes(bytes(data))
    with pytest.raises(TamperedFixtureError, match="tokenizer_config.json"):
        load_snapshot("Qwen__Qwen3-8B", root)


def test_an_unrecorded_file_in_a_snapshot_is_reported(fixture_tree):
    root = fixture_tree(["Qwen__Qwen3-8B"], goldens=False)
    (root / "tokenizers" / "Qwen__Qwen3-8B" / "added_tokens.json").write_text("{}")
    with pytest.raises(TamperedFixtureError, match="added_tokens.json"):
        load_snapshot("Qwen__Qwen3-8B", root)


def test_a_missing_snapshot_names_the_folder(fixture_tree):
    root = fixture_tree([], goldens=False)
    with pytest.raises(FixtureError, match="Qwen__Qwen3-8B"):
        get_model("Qwen/Qwen3-8B", root).snapshot()


def test_unknown_model_id_lists_the_known_ones():
    with pytest.raises(UnknownModelError) as e:
        get_model("Qwen/Qwen9-1T")
    msg = str(e.value)
    assert "Qwen/Qwen9-1T" in msg
    for mid in MODELS:
        assert mid in msg


def test_a_changed_backend_is_reported_loudly(fixture_tree):
    root = fixture_tree(["deepseek-ai__DeepSeek-V3"], goldens=False)
    folder = root / "tokenizers" / "deepseek-ai__DeepSeek-V3"
    m = json.loads((folder / "manifest.json").read_text())
    m["backend"]["canary_ids"][0] += 1  # as if transformers now pre-tokenized differently
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(FixtureError, match="canary"):
        load_tokenizer(load_snapshot("deepseek-ai__DeepSeek-V3", root))


def test_loading_every_tokenizer_and_rendering_never_opens_a_connection():
    # A fresh interpreter, so nothing is cached, with every way out of the process closed.
    code = textwrap.dedent(
        """
        import socket
        def refuse(*a, **k):
            raise AssertionError("network access attempted: %r" % (a,))
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from conformance.fixtures.registry import load_registry
        from conformance.oracle import Oracle
        from conformance.fixtures.cases import load_cases
        from conformance.oracle.derivation import derive_golden
        case = next(c for c in load_cases() if c.id == "tools-single-call-with-response")
        for entry in load_registry().values():
            o = Oracle(entry)
            rec = derive_golden(o, next(iter(entry.variants.values())), case)
            # gpt-oss also renders through openai-harmony, which downloads its vocabulary
            # unless pointed at fixtures/vocab.
            assert bool(entry.second_oracle) == ("second_oracle" in rec), entry.model_id
        print("OFFLINE-OK")
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_ENCODINGS_BASE", "TIKTOKEN_CACHE_DIR")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OFFLINE-OK" in out.stdout
