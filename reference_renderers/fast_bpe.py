"""A fast exact BPE for the reference renderers: tiktoken over the snapshot's own vocabulary.

Rendering is dominated by BPE encoding, and tiktoken's encoder is several times faster than HF
``tokenizers`` on one core (measured in ``benchmarks/bench_render.py``). It is used only where it
*is* the snapshot's tokenizer, decided from the snapshot's ``tokenizer.json`` (ranks derived from
its vocabulary, never downloaded):

* a byte-level BPE without byte fallback, decoded byte-level;
* one pre-tokenizer regex (``Split``, ``Isolated``) and then ``ByteLevel`` without a regex of its
  own: tiktoken splits text with that regex the same way;
* a pre-token that is a vocabulary entry is taken whole by tiktoken. With ``ignore_merges`` HF does
  the same; without it (Qwen3-8B) HF splits a pre-token spelled like an entry its merges never
  form, so those entries (1,909 of Qwen3-8B's: the ones whose own text HF does not encode as
  themselves) are left out of tiktoken's ranks, and tiktoken can no more produce them than HF;
* merge order = id order (rank = id), as in every vocabulary converted from tiktoken-style ranks;
* no normalizer, or NFC (text that is not already NFC goes to HF, which normalizes it).

Anything else keeps HF ``tokenizers`` (DeepSeek-V3/V3.1: three regex splits and a normalizer
sequence). Building the ranks takes a fraction of a second (plus about a second to find the
unformable entries where ``ignore_merges`` is off), once per process; a pickled reference renderer
carries the unformable entries it found, so a rollout worker builds its encoder without that
second (and loads the HF text encoder only if it meets text that is not NFC). Golden derivation never uses
this module; the goldens and the generated-case checks prove the identity on every certification,
and ``tests/test_fast_bpe.py`` encodes a corpus of hard text (and of vocabulary entries glued
together) with both encoders for every family.

Encoding is single-threaded; a renderer does not take every core of a machine that is also
sampling or loading data.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FastTextEncoder", "fast_text_encoder", "unformable_entries", "why_not_fast"]


def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes, reversed (what ``ByteLevel`` writes in a vocabulary)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def why_not_fast(tokenizer_json: dict[str, Any]) -> str | None:
    """None if tiktoken can encode exactly like this tokenizer, else why not (one line)."""
    model = tokenizer_json.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        return "not a byte-level BPE without byte fallback"
    normalizer = tokenizer_json.get("normalizer")
    if normalizer and normalizer.get("type") != "NFC":
        return f"a {normalizer.get('type')} normalizer"
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    if (len(steps) != 2 or steps[0].get("type") != "Split" or "Regex" not in (steps[0].get("pattern") or {})
            or steps[0].get("behavior") != "Isolated" or steps[0].get("invert")
            or steps[1].get("type") != "ByteLevel" or steps[1].get("use_regex")):
        return "its pre-tokenizer is not one regex split followed by ByteLevel"
    if (tokenizer_json.get("decoder") or {}).get("type") != "ByteLevel":
        return "not decoded byte-level"
    return None


class _Encoding:
    """What ``PieceEncoder`` reads of an encoding: ``ids`` and, on demand, ``offsets`` (the
    character span each id starts at, as HF gives them)."""

    __slots__ = ("ids", "_text", "_token_bytes")

    def __init__(self, ids: list[int], text: str, token_bytes: Any):
        self.ids = ids
        self._text = text
        self._token_bytes = token_bytes

    @property
    def offsets(self) -> list[tuple[int, int]]:
        sizes = [len(b) for b in self._token_bytes(self.ids)]
        if self._text.isascii():  # a byte is a character
            out, pos = [], 0
            for n in sizes:
                out.append((pos, pos + n))
                pos += n
            return out
        char_at: list[int] = []  # byte position -> the character it belongs to
        for i, ch in enumerate(self._text):
            char_at += [i] * len(ch.encode("utf-8"))
        out, pos = [], 0
        end_of_text = len(self._text)
        for n in sizes:
            start = char_at[pos] if pos < len(char_at) else end_of_text
            end = char_at[pos + n - 1] + 1 if 0 < n and pos + n - 1 < len(char_at) else end_of_text
            out.append((start, end))
            pos += n
        return out


class FastTextEncoder:
    """tiktoken with the snapshot's regex and ranks, answering like an HF ``tokenizers.Tokenizer``
    where ``PieceEncoder`` calls it (``encode(text, add_special_tokens=False)``, ``encode_batch``).
    ``hf_text_encoder`` is a zero-argument callable giving the HF text encoder, called only for
    text that is not NFC where the snapshot normalizes (HF normalizes, offsets included)."""

    def __init__(self, encoding: Any, hf_text_encoder: Callable[[], Any], nfc: bool):
        self._enc = encoding
        self._hf = hf_text_encoder
        self._nfc = nfc

    def encode(self, text: str, add_special_tokens: bool = False) -> Any:
        if self._nfc and not unicodedata.is_normalized("NFC", text):
            return self._hf().encode(text, add_special_tokens=False)
        return _Encoding(self._enc.encode_ordinary(text), text, self._enc.decode_tokens_bytes)

    def encode_batch(self, texts: list[str], add_special_tokens: bool = False) -> list[Any]:
        return [self.encode(t) for t in texts]  # one core: see the module docstring


@dataclass(frozen=True)
class _Built:
    encoding: Any
    nfc: bool
    #: the ranks of the vocabulary entries HF never forms from their own text (left out)
    unformable: tuple[int, ...]


_BUILT: dict[tuple[str, str], _Built | None] = {}


def _build(path: str, content_hash: str, hf_text_encoder: Callable[[], Any], unformable: Sequence[int] | None) -> _Built | None:
    import tiktoken

    tokenizer_json = json.loads((Path(path) / "tokenizer.json").read_text(encoding="utf-8"))
    if why_not_fast(tokenizer_json):
        return None
    decode = _byte_decoder()
    added = {t["content"] for t in tokenizer_json.get("added_tokens", [])}
    ranks: dict[bytes, int] = {}
    for piece, rank in tokenizer_json["model"]["vocab"].items():
        if piece in added:
            continue
        try:
            ranks[bytes([decode[c] for c in piece])] = int(rank)
        except KeyError:
            return None  # an entry that is not byte-level text: not this module's kind of BPE
    if tokenizer_json["model"].get("ignore_merges"):
        unformable = ()
    elif unformable is None:
        # Entries HF's merges never form from their own text: tiktoken must not take them whole.
        # Finding them encodes the whole vocabulary once (about a second).
        whole = []
        for b, rank in ranks.items():
            try:
                whole.append((rank, b.decode("utf-8")))
            except UnicodeDecodeError:
                continue  # a fragment of a character: only ever formed by merges
        hf = hf_text_encoder()
        unformable = tuple(rank for rank, text in whole if hf.encode(text, add_special_tokens=False).ids != [rank])
    left_out = set(unformable)
    ranks = {b: rank for b, rank in ranks.items() if rank not in left_out}
    pattern = tokenizer_json["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    encoding = tiktoken.Encoding(name=f"conformance-{content_hash}", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    nfc = (tokenizer_json.get("normalizer") or {}).get("type") == "NFC"
    return _Built(encoding, nfc, tuple(sorted(left_out)))


def fast_text_encoder(snapshot: Any, hf_text_encoder: Callable[[], Any], *,
                      unformable: Sequence[int] | None = None) -> FastTextEncoder | None:
    """The fast encoder for ``snapshot`` (built once per process), or None where it would not be
    exact (:func:`why_not_fast`). ``unformable``: the entries to leave out, as
    :func:`unformable_entries` gave them in another process for the same snapshot (a renderer
    carries them through pickling, so a rollout worker skips the second it takes to find them)."""
    key = (str(snapshot.path), snapshot.content_hash)
    if key not in _BUILT:
        _BUILT[key] = _build(key[0], key[1], hf_text_encoder, unformable)
    built = _BUILT[key]
    return None if built is None else FastTextEncoder(built.encoding, hf_text_encoder, built.nfc)


def unformable_entries(snapshot: Any) -> tuple[str, tuple[int, ...]] | None:
    """``(content_hash, ranks)`` of the entries this process's fast encoder for ``snapshot`` left
    out, or None if it has none built. The hash ties them to the snapshot they were found in."""
    built = _BUILT.get((str(snapshot.path), snapshot.content_hash))
    return None if built is None else (snapshot.content_hash, built.unformable)
