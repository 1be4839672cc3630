"""Turning rendered pieces into ids under the injection standard.

A hand-written renderer emits pieces: ``structure`` (template text; added tokens in it become their
ids) and ``content`` (message text; always encoded as text). Adjacent text is merged before BPE, so
the ids equal what the tokenizer gives for the whole rendered string wherever content spells no
special token, with no drift at message seams.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PieceEncoder"]


class PieceEncoder:
    def __init__(self, tokenizer: Any, text_encoder: Any):
        self.tok = tokenizer
        self.text_encoder = text_encoder
        added = sorted({t.content for t in tokenizer.added_tokens_decoder.values()}, key=len, reverse=True)
        self._added_re = re.compile("|".join(re.escape(t) for t in added))
        self._ids = {t: int(tokenizer.convert_tokens_to_ids(t)) for t in added}

    def id(self, token_text: str) -> int:
        return self._ids[token_text]

    def text_ids(self, text: str) -> list[int]:
        return list(self.text_encoder.encode(text, add_special_tokens=False).ids) if text else []

    def encode(self, pieces: list[tuple[str, str]]) -> list[int]:
        """``pieces``: ``("s", structure_text)`` or ``("c", content_text)``."""
        ids: list[int] = []
        buf: list[str] = []
        for kind, text in pieces:
            if kind == "c":
                buf.append(text)
                continue
            pos = 0
            for m in self._added_re.finditer(text):
                buf.append(text[pos : m.start()])
                ids += self.text_ids("".join(buf))
                buf = []
                ids.append(self._ids[m.group(0)])
                pos = m.end()
            buf.append(text[pos:])
        ids += self.text_ids("".join(buf))
        return ids
