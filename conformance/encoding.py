"""Encoding under the conformance standard, for renderer authors.

A chat template's output is template text (role headers, ``<|im_end|>``, think tags: special
tokens become their ids) and message content (always plain text: a user who types ``<|im_end|>``
gets the characters, never the special id). :class:`TextEncoder` encodes exactly that, with the
model's own vendored tokenizer:

    >>> from conformance import text_encoder
    >>> enc = text_encoder("Qwen/Qwen3-8B")
    >>> ids = enc.encode([("template", "<|im_start|>user\\n"), ("content", "hi <|im_end|>"), ("template", "<|im_end|>\\n")])

Adjacent text is merged before BPE, as the template's rendered string would be: encoding the
pieces one by one instead splits tokens at every seam (``"\\n" + "Hello"`` is not always
``"\\nHello"``'s ids), which the template-parity checks catch as *encoder* drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["TextEncoder", "text_encoder"]

TEMPLATE, CONTENT = "template", "content"


class TextEncoder:
    """The model's tokenizer, split into what the standard needs. Pickles by model id."""

    def __init__(self, model_id: str):
        from conformance.fixtures.registry import get_model
        from conformance.fixtures.snapshots import load_text_encoder, load_tokenizer

        self.model_id = model_id
        snap = get_model(model_id).snapshot()
        #: the HF tokenizer of the vendored snapshot (loaded offline, hash-checked)
        self.tokenizer = load_tokenizer(snap)
        self._text = load_text_encoder(snap)
        added = sorted({t.content for t in self.tokenizer.added_tokens_decoder.values()}, key=len, reverse=True)
        self._ids = {t: int(self.tokenizer.convert_tokens_to_ids(t)) for t in added}
        self._added = re.compile("|".join(re.escape(t) for t in added))

    def __reduce__(self) -> tuple[Any, ...]:
        return (TextEncoder, (self.model_id,))

    def special(self, token: str) -> int:
        """The id of a special (added) token such as ``<|im_end|>``; KeyError if it is none."""
        return self._ids[token]

    def text(self, text: str) -> list[int]:
        """``text`` as plain text: special-token spellings stay characters."""
        return list(self._text.encode(text, add_special_tokens=False).ids) if text else []

    def encode(self, pieces: Iterable[tuple[str, str]]) -> list[int]:
        """``[(kind, text), ...]`` with kind ``"template"`` (special tokens in it become their ids)
        or ``"content"`` (always text), adjacent text merged before BPE."""
        ids: list[int] = []
        buf: list[str] = []
        for kind, text in pieces:
            if kind == CONTENT:
                buf.append(text)
                continue
            if kind != TEMPLATE:
                raise ValueError(f"piece kind must be 'template' or 'content', not {kind!r}")
            pos = 0
            for m in self._added.finditer(text):
                buf.append(text[pos : m.start()])
                ids += self.text("".join(buf))
                buf = []
                ids.append(self._ids[m.group(0)])
                pos = m.end()
            buf.append(text[pos:])
        return ids + self.text("".join(buf))

    def decode(self, ids: Iterable[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=False))


def text_encoder(model_id: str) -> TextEncoder:
    """A :class:`TextEncoder` for a registered model (``conformance fixtures list``)."""
    return TextEncoder(model_id)
