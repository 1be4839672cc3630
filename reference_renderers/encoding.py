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
    """``text_encoder`` encodes text runs: the fast exact BPE where the snapshot allows it
    (:mod:`reference_renderers.fast_bpe`), else HF ``tokenizers``. One core unless ``parallel``
    (HF's batch encode then spreads the runs over every core)."""

    def __init__(self, tokenizer: Any, text_encoder: Any, *, parallel: bool = False):
        self.tok = tokenizer
        self.text_encoder = text_encoder
        self.parallel = parallel
        added = sorted({t.content for t in tokenizer.added_tokens_decoder.values()}, key=len, reverse=True)
        self._added_re = re.compile("|".join(re.escape(t) for t in added))
        self._ids = {t: int(tokenizer.convert_tokens_to_ids(t)) for t in added}

    def id(self, token_text: str) -> int:
        return self._ids[token_text]

    def text_ids(self, text: str) -> list[int]:
        return list(self.text_encoder.encode(text, add_special_tokens=False).ids) if text else []

    def encode(self, pieces: list[tuple[Any, ...]]) -> list[int]:
        """``pieces``: ``("s", structure_text)``, ``("c", content_text)`` or ``("m", "", i)``
        (a marker: what follows belongs to message ``i``; markers do not change the ids)."""
        return self._encode(pieces, False)[0]

    def encode_with_messages(self, pieces: list[tuple[Any, ...]]) -> tuple[list[int], list[int]]:
        """The ids and, per id, the message it belongs to: the last ``("m", "", i)`` marker before
        the character the token starts at (0 before any marker; ``-1`` marks template text that
        belongs to no message, such as the generation prompt)."""
        ids, owners = self._encode(pieces, True)
        assert owners is not None
        return ids, owners

    def _encode(self, pieces: list[tuple[Any, ...]], owners_wanted: bool) -> tuple[list[int], list[int] | None]:
        # Split into text runs and added-token ids; the runs are independent BPE inputs (an
        # added token always splits pre-tokenization).
        runs: list[str] = []
        run_owners: list[list[tuple[int, int]]] = []  # per run: (char offset, message) changes
        specials: list[tuple[int, int]] = []  # (id, message); specials[k] follows runs[k]
        buf: list[str] = []
        size = 0
        owner = 0
        changes: list[tuple[int, int]] = [(0, 0)]
        for piece in pieces:
            kind, text = piece[0], piece[1]
            if kind == "m":
                owner = piece[2]  # type: ignore[misc]
                changes.append((size, owner))
                continue
            if kind == "c":
                buf.append(text)
                size += len(text)
                continue
            pos = 0
            for m in self._added_re.finditer(text):
                buf.append(text[pos : m.start()])
                runs.append("".join(buf))
                run_owners.append(changes)
                buf, size, changes = [], 0, [(0, owner)]
                specials.append((self._ids[m.group(0)], owner))
                pos = m.end()
            buf.append(text[pos:])
            size += len(text) - pos
        runs.append("".join(buf))
        run_owners.append(changes)
        if self.parallel:
            nonempty = [r for r in runs if r]
            encoded = iter(self.text_encoder.encode_batch(nonempty, add_special_tokens=False) if nonempty else [])
            encodings = [next(encoded) if r else None for r in runs]
        else:
            encodings = [self.text_encoder.encode(r, add_special_tokens=False) if r else None for r in runs]
        run_ids = [e.ids if e is not None else [] for e in encodings]
        ids: list[int] = []
        owners: list[int] = []
        for k in range(len(runs)):
            ids += run_ids[k]
            if owners_wanted:
                owners += _owners_of(encodings[k], run_owners[k], len(runs[k]))
            if k < len(specials):
                ids.append(specials[k][0])
                owners.append(specials[k][1])
        return ids, (owners if owners_wanted else None)


def _owners_of(encoding: Any, changes: list[tuple[int, int]], size: int) -> list[int]:
    if encoding is None:
        return []
    # The owner at each change of message; a run that one message owns throughout (the usual
    # case: messages are separated by special tokens; a marker at the run's very end owns no
    # token of it) needs no token offsets.
    last: dict[int, int] = {}
    for at, owner in changes:
        if at < size or not last:
            last[at] = owner
    if len(last) == 1 or len(set(last.values())) == 1:
        return [next(reversed(last.values()))] * len(encoding.ids)
    out = []
    j = 0
    for start, _ in encoding.offsets:
        while j + 1 < len(changes) and changes[j + 1][0] <= start:
            j += 1
        out.append(changes[j][1])
    return out
