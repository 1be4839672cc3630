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

_BATCH_FROM = 8  # below this many text runs, batching costs more than it saves


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
        # Split into text runs and added-token ids; the runs are independent BPE inputs (an
        # added token always splits pre-tokenization), so they are encoded as one batch, which
        # the Rust tokenizer spreads over the machine's cores.
        runs: list[str] = []
        specials: list[int] = []  # specials[k] follows runs[k]
        buf: list[str] = []
        for kind, text in pieces:
            if kind == "c":
                buf.append(text)
                continue
            pos = 0
            for m in self._added_re.finditer(text):
                buf.append(text[pos : m.start()])
                runs.append("".join(buf))
                buf = []
                specials.append(self._ids[m.group(0)])
                pos = m.end()
            buf.append(text[pos:])
        runs.append("".join(buf))
        if len(runs) > _BATCH_FROM:
            nonempty = [r for r in runs if r]
            encoded = iter(self.text_encoder.encode_batch(nonempty, add_special_tokens=False))
            run_ids = [next(encoded).ids if r else [] for r in runs]
        else:
            run_ids = [self.text_ids(r) for r in runs]
        ids: list[int] = []
        for k, special in enumerate(specials):
            ids += run_ids[k]
            ids.append(special)
        ids += run_ids[-1]
        return ids
