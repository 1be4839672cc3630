"""The fast exact BPE (reference_renderers/fast_bpe.py) encodes exactly like the snapshot's own
HF tokenizer, for every family it serves, on a corpus of hard text; where it would not be exact
the snapshot keeps HF, for the reason ``why_not_fast`` names. A pickled renderer carries what its
encoder found, and the process that unpickles it builds the same encoder without searching."""

from __future__ import annotations

import json
import pickle
import random

import pytest

from conformance.fixtures.registry import load_registry
from conformance.fixtures.snapshots import load_text_encoder
from reference_renderers.fast_bpe import fast_text_encoder, why_not_fast

SNAPSHOTS = sorted({e.snapshot_name: e.model_id for e in load_registry().values()}.items())

#: every script, whitespace runs, digits, joiners, emoji, spelled tokens, and vocabulary entries
#: that BPE merges never form (taken whole only by a tokenizer that ignores merges)
HARD = [
    "Hello, world! It's 2026; we've 1234567 items.", "  leading and trailing  ", "\t\ttabs\tand\r\nCRLF\r\n\r\n",
    "\n\n\n", " ", "", "a" * 300, "1" * 50 + " 3.14159 -2.5e3 1e-07 ½ ² Ⅻ", "naïve café Café (decomposed) ﬁ ligature",
    "我在新加坡工作", "我在新加坡工作。你好，世界！", " нанес", " нанесение", "Привет, мир", "مرحبا بالعالم", "שלום עולם",
    "नमस्ते दुनिया", "こんにちは世界", "안녕하세요 세계", "ສະບາຍດີ", "👋🏽 👨‍👩‍👧‍👦 🇸🇬", "zero\u200bwidth\u200c\u200djoiners\ufeff",
    "<|im_end|> <think></think> <|user|> [INST] <｜User｜>", '{"a": [1, 2.5, null, true], "b": "\\u00e9\\n"}',
    "def f(x):\n    return x  # comment\n\n\nclass A:\n\tpass\n", "    indented\n        more\n",
    "URL https://example.com/a?b=c&d=e#f", "emails a.b@c.d", "MiXeD CaSe WoRdS", "'s 't 're 've 'm 'll 'd 'S 'T",
]


def _corpus(model_id: str) -> list[str]:
    from conformance.fixtures.goldens import golden_dir

    entry = load_registry()[model_id]
    texts = list(HARD)
    for p in sorted(golden_dir(entry).glob("*/*.json"))[:300]:
        g = json.loads(p.read_text(encoding="utf-8"))
        texts += [g[k]["text"] for k in ("prompt", "full") if g[k].get("text")]
    rng = random.Random(7)
    pool = "".join(HARD)
    texts += ["".join(rng.choice(pool) for _ in range(rng.randint(1, 80))) for _ in range(300)]
    # Vocabulary entries glued together: BPE's unusual paths (an entry next to another, an entry
    # the merges never form, fragments of characters).
    tok = entry.tokenizer()
    vocab = [t for t in (tok.convert_tokens_to_string([p]) for p in rng.sample(sorted(tok.get_vocab()), 4000)) if t]
    texts += ["".join(rng.choice(vocab) + rng.choice(["", "", " ", "\n", "."]) for _ in range(rng.randint(1, 6)))
              for _ in range(1500)]
    return texts


@pytest.mark.parametrize("snapshot, model_id", SNAPSHOTS, ids=[s for s, _ in SNAPSHOTS])
def test_the_fast_encoder_is_the_snapshots_tokenizer(snapshot, model_id):
    entry = load_registry()[model_id]
    snap = entry.snapshot()
    tokenizer_json = json.loads((snap.path / "tokenizer.json").read_text(encoding="utf-8"))
    hf = load_text_encoder(snap)
    fast = fast_text_encoder(snap, lambda: hf)
    why = why_not_fast(tokenizer_json)
    if fast is None:
        assert why, f"{snapshot}: no fast encoder and no reason"
        pytest.skip(f"{snapshot} keeps HF tokenizers: {why}")
    wrong = []
    for text in _corpus(model_id):
        want, got = hf.encode(text, add_special_tokens=False), fast.encode(text)
        if list(got.ids) != list(want.ids):
            wrong.append(text[:60])
        elif [s for s, _ in got.offsets] != [s for s, _ in want.offsets]:
            wrong.append(f"offsets of {text[:50]!r}")
    assert not wrong, f"{snapshot}: {len(wrong)} texts encode differently, e.g. {wrong[:3]}"


def test_what_keeps_hf_is_said():
    reasons = {}
    for snapshot, model_id in SNAPSHOTS:
        snap = load_registry()[model_id].snapshot()
        reasons[snapshot] = why_not_fast(json.loads((snap.path / "tokenizer.json").read_text(encoding="utf-8")))
    assert reasons["deepseek-ai__DeepSeek-V3"] and reasons["deepseek-ai__DeepSeek-V3.1"]
    assert reasons["zai-org__GLM-5.2"] is None and reasons["openai__gpt-oss-20b"] is None
    assert sum(r is None for r in reasons.values()) == 13, reasons  # 13 of the 15 snapshots are fast


def test_a_pickled_renderer_brings_the_unformable_entries_and_encodes_the_same(monkeypatch):
    from conformance.fixtures import snapshots
    from conformance.fixtures.cases import load_cases
    from reference_renderers import Qwen3Renderer, base, fast_bpe

    renderer = Qwen3Renderer(model_id="Qwen/Qwen3-8B")
    blob = pickle.dumps(renderer)
    found = fast_bpe.unformable_entries(renderer._snapshot)
    assert found is not None and len(found[1]) == 1909  # the count the module docstring gives

    # A process that never built the encoder: nothing cached, and the HF text encoder, whose
    # search the carried entries replace, is not loaded to unpickle (only later, for text that
    # is not NFC).
    load, unpickling = snapshots.load_text_encoder, [True]

    def refuse(snap):
        assert not unpickling, "the unpickled renderer searched the vocabulary again"
        return load(snap)

    monkeypatch.setattr(fast_bpe, "_BUILT", {})
    monkeypatch.setattr(base, "_KNOWN_UNFORMABLE", {})
    monkeypatch.setattr(snapshots, "load_text_encoder", refuse)
    again = pickle.loads(blob)
    unpickling.clear()
    assert fast_bpe.unformable_entries(renderer._snapshot) == found
    cases = [c for c in load_cases() if c.id.startswith(("basic-", "text-", "tools-"))][:40]
    assert cases
    for c in cases:
        assert again.render(c.messages, tools=c.tools_list()).ids == renderer.render(c.messages, tools=c.tools_list()).ids, c.id

    # Entries carried for another snapshot's content hash are never used.
    monkeypatch.setattr(fast_bpe, "_BUILT", {})
    monkeypatch.setattr(base, "_KNOWN_UNFORMABLE", {"another-hash": (1, 2, 3)})
    Qwen3Renderer(model_id="Qwen/Qwen3-8B")
    assert fast_bpe.unformable_entries(renderer._snapshot) == found
