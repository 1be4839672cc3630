"""Structured evidence a failing check leaves on its test report, for the parity report's pages.

A failure message is text for a person at a terminal; the nightly report also wants the first
divergence as data (ids, decoded pieces, which ids are special) to draw a token-level diff. Checks
call :func:`record_divergence` (``support.token_diff`` does it for every id comparison); the value
rides on the test report's ``user_properties``, so it survives ``pytest-xdist``, and the session
writes it into ``--conformance-report``.

Within one test the last record wins: Hypothesis replays the shrunk example last, so a generated
failure keeps the divergence of its minimal conversation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from conformance.oracle.message_spans import first_divergence

__all__ = [
    "running",
    "set_current_example",
    "current_example",
    "record_divergence",
    "divergence_of",
    "record_note",
    "notes_of",
    "NOTE_KEY",
    "unformable_ids",
    "EVIDENCE_KEY",
    "WINDOW_BEFORE",
    "WINDOW_AFTER",
]

EVIDENCE_KEY = "conformance_divergence"
WINDOW_BEFORE = 4
WINDOW_AFTER = 10

_special_cache: dict[int, tuple[Any, frozenset[int]]] = {}


def _cached(cache: dict[int, tuple[Any, Any]], tok: Any, compute: Any) -> Any:
    """``compute(tok)``, once per live tokenizer object. Keyed by ``id``, and the entry holds the
    object itself: an id is reused once its object is freed, and a later tokenizer (another
    model's, in a process that certifies several) must never get the freed one's answer."""
    entry = cache.get(id(tok))
    if entry is None or entry[0] is not tok:
        entry = cache[id(tok)] = (tok, compute(tok))
    return entry[1]


@dataclass
class _Running:
    item: Any  # the pytest item whose report carries the evidence
    example: Any = None  # the generated conversation it is running, for a timeout's message


#: The test being run, for the checks deep in the call stack that leave evidence on it. Set for the
#: duration of one test's protocol only (:func:`running`), so nothing recorded outside a test, or
#: in another thread's context, lands on a stale item.
_running: ContextVar[_Running | None] = ContextVar("conformance_running", default=None)


@contextmanager
def running(item: Any) -> Iterator[None]:
    """Evidence recorded within this block goes onto ``item``'s report."""
    token = _running.set(_Running(item))
    try:
        yield
    finally:
        _running.reset(token)


def set_current_example(messages: Any) -> None:
    now = _running.get()
    if now is not None:
        now.example = messages


def current_example() -> Any:
    now = _running.get()
    return None if now is None else now.example


def _special_ids(tok: Any) -> frozenset[int]:
    def compute(tok: Any) -> frozenset[int]:
        try:
            return frozenset(int(i) for i in tok.added_tokens_decoder)
        except Exception:  # noqa: BLE001 - a tokenizer without added tokens has none to mark
            return frozenset()

    return _cached(_special_cache, tok, compute)  # type: ignore[no-any-return]


def _piece(tok: Any, i: int | None) -> str | None:
    if i is None:
        return None
    try:
        return str(tok.decode([i], skip_special_tokens=False))
    except Exception:  # noqa: BLE001 - an id outside the vocabulary is itself the evidence
        return "(invalid id)"


def unformable_ids(tok: Any, ids: Sequence[int]) -> list[int]:
    """The ids among ``ids`` that the oracle's encoder never emits for their own text, or emits
    only as a whole word.

    Some vocabularies (Qwen3.5/3.6, GLM-5) hold entries that no BPE merge sequence reaches: an HF
    ``tokenizers`` BPE never produces them, while another encoder (e.g. a compiled one) may. An id
    counts here when encoding its decoded text does not give back exactly that id; or, for a BPE
    that takes a whole pre-tokenized word straight from its vocabulary (``ignore_merges``, GLM-5),
    when its merges alone do not: such an entry (GLM's `` нанес``) comes out for the word itself,
    never inside a longer word (`` нанесение``). Special tokens and pieces that are not whole
    characters are never counted.
    """
    special = _special_ids(tok)
    merges_only = _merges_only(tok)
    out = []
    for i in dict.fromkeys(int(x) for x in ids):
        if i in special:
            continue
        try:
            text = tok.decode([i], skip_special_tokens=False)
            if not text or "\ufffd" in text:
                continue
            if list(tok.encode(text, add_special_tokens=False)) != [i] or (
                merges_only is not None and merges_only.encode(text, add_special_tokens=False).ids != [i]
            ):
                out.append(i)
        except Exception:  # noqa: BLE001 - an id outside the vocabulary is not an encoder question
            continue
    return out


_merges_cache: dict[int, tuple[Any, Any]] = {}


def _merges_only(tok: Any) -> Any:
    """A copy of ``tok``'s backend whose BPE forms every token by merges (``ignore_merges`` off),
    or None where the backend is not a BPE that takes whole words from its vocabulary."""
    def compute(tok: Any) -> Any:
        try:
            backend = tok.backend_tokenizer
            if getattr(backend.model, "ignore_merges", False):
                from tokenizers import Tokenizer

                clone = Tokenizer.from_str(backend.to_str())
                clone.model.ignore_merges = False
                return clone
        except Exception:  # noqa: BLE001 - a slow or unusual tokenizer: the plain check still applies
            pass
        return None

    return _cached(_merges_cache, tok, compute)


def record_divergence(tok: Any, expected: Sequence[int], got: Sequence[int], *, what: str = "",
                      part: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Attach the first divergence of two id lists to the running test; returns the record.

    Rows are ``[position, expected_id, expected_piece, expected_is_special, got_id, got_piece,
    got_is_special]`` from ``WINDOW_BEFORE`` tokens before the divergence to ``WINDOW_AFTER`` after;
    an id past the end of its list is None. ``part``, where the caller knows it, is where the
    divergence lies in the case's conversation (``parts.part_at``), kept as the record's ``part``.
    """
    expected, got = list(expected), list(got)
    k = first_divergence(expected, got)
    special = _special_ids(tok)
    rows = []
    for i in range(max(0, k - WINDOW_BEFORE), k + WINDOW_AFTER):
        e = expected[i] if i < len(expected) else None
        g = got[i] if i < len(got) else None
        if e is None and g is None:
            break
        rows.append([i, e, _piece(tok, e), e in special, g, _piece(tok, g), g in special])
    record: dict[str, Any] = {"what": what, "at": k, "expected_len": len(expected), "got_len": len(got), "rows": rows}
    if part is not None:
        record["part"] = part
    # Say what kind of difference it is when the ids are the template's text split differently:
    # "injection" (content text became special ids), "encoder" (same text, another token split:
    # BPE drift at a seam, or an encoder that is not the model's). Vocabulary entries the oracle's
    # BPE never forms from their own text are listed as well.
    try:
        same_text = tok.decode(expected, skip_special_tokens=False) == tok.decode(got, skip_special_tokens=False)
    except Exception:  # noqa: BLE001 - ids outside the vocabulary: certainly not the same text
        same_text = False
    if same_text:
        from collections import Counter

        # "encoder" only where both sides hold the same special ids: a side with a special id the
        # other lacks is a question of structure, never of BPE.
        sp_e = Counter(i for i in expected[k:] if i in special)
        sp_g = Counter(i for i in got[k:] if i in special)
        record["kind"] = "injection" if sp_g - sp_e else ("structure_as_text" if sp_e - sp_g else "encoder")
    extra = [g for g in got[k:k + WINDOW_AFTER] if g not in set(expected[k:k + 4 * WINDOW_AFTER])]
    odd = unformable_ids(tok, extra)
    if odd:
        record["unformable_ids"] = odd
    now = _running.get()
    if now is not None:
        item = now.item
        props = [p for p in item.user_properties if p[0] != EVIDENCE_KEY]
        props.append((EVIDENCE_KEY, record))
        item.user_properties[:] = props
    return record


NOTE_KEY = "conformance_note"


def record_note(text: str) -> None:
    """Attach a benign difference (a finding that changes nothing a model sees or trains on) to
    the running test: it passes, and the note is listed with the findings."""
    now = _running.get()
    if now is not None:
        now.item.user_properties.append((NOTE_KEY, text))


def notes_of(report: Any) -> list[str]:
    return [v for k, v in getattr(report, "user_properties", ()) or () if k == NOTE_KEY]


def divergence_of(report: Any) -> dict[str, Any] | None:
    """The divergence a test report carries, if any."""
    for key, value in getattr(report, "user_properties", ()) or ():
        if key == EVIDENCE_KEY:
            return value  # type: ignore[no-any-return]
    return None
