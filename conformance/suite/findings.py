"""Findings: failing tests grouped into root causes, each classified by what it breaks.

A *finding* is one behaviour difference between an implementation and the goldens. Every failing
test record gets a signature that does not depend on the case: what kind of difference it is
(missing, extra or substituted ids; text that became special ids; the same text split
differently; weights only; a parse field; an exception), where it sits (the token before it:
``after <|im_end|>``, the final end-of-turn, the generation prompt's end) and the pieces on both
sides, with case text replaced by its class (special tokens and whitespace are kept as they are,
other text becomes ``text``). Tests with one signature are one finding, titled from it, with the
smallest failing test as its reproduction. The signatures of one *region* (the reasoning block,
tool calls, whitespace, the system prompt or tool declarations: read from the signature and from
the part of the conversation the divergence lies in, ``parts.part_at``) are one finding, each
signature listed as one of its ways (``region_of``).

Classes (computed, never hand-labelled):

* **security**: special ids whose text came from message content (role-boundary injection);
* **sampling**: the generation prompt, stop ids, the parse of a completion, the extension
  property or a bridge differ, or calls from several threads give other results than alone:
  what the sampler sees or what comes back from it;
* **training**: ids or weights of a full render or a supervised example differ at or before a
  weighted token;
* **benign**: nothing a model sees or trains on changes: template text after the final
  end-of-turn token of a full render or supervised example (Qwen's ``\\n`` after the last
  ``<|im_end|>``) is missing. It weighs 0 and conditions nothing. Benign findings are notes,
  listed, never failures.

CERTIFIED means no security, sampling or training finding.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Finding", "CLASSES", "FAILING_CLASSES", "INJECTION_SIGNATURE", "signature_of", "group_findings", "region_of",
           "region_title", "REGIONS",
           "PLAIN_CALLS", "reproduction_rank"]

CLASSES = ("security", "sampling", "training", "benign")
_INJECTION = ("injection|content-special-ids", "message text that spells a special token becomes its special id (a forged role boundary)")
#: The one finding ``--conformance-injection literal`` does not judge.
INJECTION_SIGNATURE = _INJECTION[0]
FAILING_CLASSES = ("security", "sampling", "training")
_FAILING = ("failed", "error", "xpassed")
_SAMPLING_AREAS = ("stop_sequences", "roundtrip", "extension", "bridge", "threads", "streaming", "openai")


@dataclass
class Finding:
    signature: str
    cls: str
    title: str
    area: str
    tests: list[dict[str, Any]] = field(default_factory=list)  # the failing records it explains
    #: Where one finding holds several differences (a region's, see ``region_of``): each as
    #: ``{"signature", "class", "title", "tests"}``, most tests first.
    members: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.tests)

    @property
    def reproduction(self) -> dict[str, Any]:
        """The plainest smallest failing test: one call's ids compared with the template's
        (:data:`PLAIN_CALLS`, which a bug report can reproduce with the library alone) before any
        other, then the shortest expected id list, then the shortest message."""
        return min(self.tests, key=reproduction_rank)

    def to_json(self) -> dict[str, Any]:
        rep = self.reproduction
        return {"signature": self.signature, "class": self.cls, "title": self.title, "area": self.area, "tests": self.count,
                "areas": sorted({r["area"] for r in self.tests}),
                "runs": sorted({r.get("variant", "") for r in self.tests}),
                # The golden cases it shows in ("" for tests of no case: generated, pickling):
                # the report merges findings seen in one case only (see report.findings).
                "cases": sorted({r.get("case") or "" for r in self.tests}),
                "reproduction": {k: rep[k] for k in ("nodeid", "case", "variant", "reason", "divergence") if k in rep},
                **({"members": self.members} if self.members else {})}


#: The checks that compare one call's ids with the template's: the test function -> the call.
PLAIN_CALLS = {
    "test_generation_prompt_matches_template": "prompt",
    "test_full_conversation_matches_template": "full",
    "test_supervised_weights_select_the_sampled_tokens": "supervised",
}


def reproduction_rank(record: dict[str, Any]) -> tuple[int, int, int, str]:
    """How good a reproduction a failing record is (smaller is better): a plain call first, then
    the shortest expected id list, then the shortest message."""
    div = record.get("divergence") or {}
    test = record["nodeid"].split("::")[-1].split("[")[0]
    return (0 if test in PLAIN_CALLS else 1), int(div.get("expected_len", 10**9)), len(record.get("reason", "")), record["nodeid"]


def _norm(piece: Any, special: bool) -> str:
    """A piece as a signature sees it: specials and whitespace as they are, other text by its shape
    (letters ``a``, digits ``0``, punctuation kept: ``'\\u00e9'`` is ``text '\\a0a0'``, ``' é'`` is ``text ' a'``)."""
    if piece is None:
        return "(end)"
    if special or not str(piece).strip():
        return repr(str(piece))
    return f"text {_letters_and_digits(str(piece))!r}"


def _letters_and_digits(text: str) -> str:
    """Text by its shape: every run of letters ``a``, every run of digits ``0``, the rest kept."""
    return re.sub(r"\d+", "0", re.sub(r"[^\W\d_]+", "a", text))


def _first_line(record: dict[str, Any]) -> str:
    """The failure's first line: pytest's crash message (``message``), else the reason's first
    line that is not traceback source."""
    message = record.get("message") or ""
    for prefix in ("AssertionError: ", "Failed: "):
        message = message.removeprefix(prefix)
    if message.strip():
        return message.strip().splitlines()[0]
    reason = record.get("reason", "")
    return next((ln for ln in reason.splitlines() if ln.strip() and not ln.startswith(("E ", ">"))), "").strip()


def _normalize_reason(line: str) -> str:
    """A failure's first line with case-specific values taken out (quoted text, bracketed and
    braced values however nested, numbers)."""
    line = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "'…'", line)
    while True:
        collapsed = re.sub(r"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}", "…", line)
        if collapsed == line:
            break
        line = collapsed
    return re.sub(r"\d+", "N", line)[:160]


#: The first words of ``support.parse_problems``: one parse difference, whichever area found it
#: (the roundtrip goldens or a generated conversation).
_PARSE_PROBLEMS = ("termination ", "content ", "reasoning ", "tool calls ")
#: The first words of ``support.stream_problems``: one streaming difference, whichever area found
#: it (the goldens one id at a time, or generated conversations in any chunks).
_STREAM_PROBLEMS = ("the stream", "delta ")


def _divergence_signature(area: str, div: dict[str, Any]) -> tuple[str, str, str]:
    """(signature, title, class) of an id comparison's first divergence."""
    at = div["at"]
    rows = {row[0]: row for row in div.get("rows", [])}
    row = rows.get(at)
    prev = rows.get(at - 1)
    e_piece, e_special = (row[2], row[3]) if row else (None, False)
    g_piece, g_special = (row[5], row[6]) if row else (None, False)
    if row is not None and row[1] is None:
        e_piece = None
    if row is not None and row[4] is None:
        g_piece = None
    after = f" after {prev[2]!r}" if prev and prev[1] is not None and prev[3] else (" at the start" if at == 0 else "")
    what = div.get("what", "")
    kind = div.get("kind", "")
    # Missing template text after the final end-of-turn token: the example simply ends there.
    ended = div.get("got_len") == at and div.get("expected_len", 0) - at <= 2
    tail = [rows[k][2] for k in sorted(rows) if k >= at and rows[k][1] is not None]
    if ended and prev and prev[3] and all(not str(p).strip() for p in tail):
        sig = f"{area}|{what}|drops-after-final|{prev[2]!r}|{''.join(map(str, tail))!r}"
        return sig, f"drops {''.join(map(str, tail))!r} after the final {prev[2]!r} ({what})", "benign"
    # A supervised example's last id is a special token (the turn's end-of-turn token: <|im_end|>, or
    # GLM's marker of the message that follows) and the renderer ends there without it or with
    # another special: one choice about how an example ends, whichever marker the case's next
    # message would have brought ('<|user|>' after an answer, '<|observation|>' after a call).
    last = div.get("expected_len", 0) - 1
    if "supervised" in what and at == last and e_special and div.get("got_len") in (at, at + 1) and (g_piece is None or g_special):
        if g_piece is None:
            return (f"ids|{what}|final-end-of-turn|dropped", f"drops the final end-of-turn token ({e_piece!r} in the "
                    f"template), and ends ({what})", "training")
        return (f"ids|{what}|final-end-of-turn|{g_piece!r}", f"ends with {g_piece!r} where the template's final "
                f"end-of-turn token is {e_piece!r} ({what})", "training")
    after_at = [rows[k] for k in sorted(rows) if k >= at]
    expected_text = "".join(str(r[2]) for r in after_at if r[1] is not None)
    expected_specials = {r[2] for r in after_at if r[1] is not None and r[3]}
    # A special id on the renderer's side whose text is plain text on the template's side (its
    # BPE shifts the tokens just before it, so the first divergence is often a piece earlier).
    forged = [r[5] for r in after_at if r[4] is not None and r[6] and r[5] not in expected_specials and str(r[5]) in expected_text]
    if kind == "injection" or forged:
        # The same root cause the injection area judges, wherever it shows.
        return _INJECTION + ("security",)
    if e_piece is None:
        change = f"writes {_norm(g_piece, g_special)} more{'' if g_special else after}"
    elif g_piece is None:
        # Text the renderer leaves off at the end is the case's own (a prefill, an answer): its
        # shape would split one behaviour by case; specials and whitespace are shown as they are.
        dropped = _norm(e_piece, e_special) if e_special or not str(e_piece).strip() else "text"
        change = f"drops {dropped}{'' if e_special else after}, and ends"
    elif kind == "encoder":
        change = _ENCODER.format(after=after)
    elif kind == "structure_as_text":
        change = f"writes the template's {_norm(e_piece, True)} as text{after}"
    elif (edit := _text_edit(rows, at)) is not None:
        # The change in text, from where the two sides part to where they run together again:
        # what the renderer leaves out, writes more, or writes instead, whatever BPE does at the
        # seams and whatever text of the case follows.
        removed, written, after_special = edit
        # A special token left out or written more is the renderer's choice wherever it sits
        # (a synthesized <|endoftext|> after a tool call or after an answer), and so are spaces,
        # tabs or carriage returns (stripping message text, in whichever role); other text is
        # told apart by its place.
        one_side = removed if not written else written if not removed else []
        blank = bool(one_side) and _shape(one_side, after_special) == "whitespace"
        where = "" if (one_side and one_side[0][1]) or blank else _context(rows, at)
        if not written:
            change = f"leaves out {_shape(removed, after_special)}{where}"
        elif not removed and not written[0][1] and (tag := _TAG.match("".join(p for p, _ in written))):
            # Markup spelled as text that opens what the renderer inserts ('<think>' and the
            # case's reasoning): the tag names it, the text inside is the case's own.
            change = f"writes text {tag.group(0).strip()!r} … more{where}"
        elif not removed:
            change = f"writes {_shape(written, after_special)} more{where}"
        else:
            text_w, text_r = "".join(p for p, _ in written), "".join(p for p, _ in removed)
            plain = not any(sp for _, sp in removed + written)
            if plain and re.sub(r"\s", "", text_w) == re.sub(r"\s", "", text_r):
                change = f"writes other whitespace than the template{where}"
            elif plain and "\\u" in text_w and "\\u" not in text_r:
                change = f"writes non-ASCII text as \\u escapes{where}"
            elif not written[0][1] and not removed[0][1] and (tag := _TAG.match(text_w)) and _lead(removed).strip():
                # The renderer writes markup (a '<think>' spelled as text) where the template has
                # the case's own text (an answer in history, '91 = 7 × 13' included): the markup
                # names the behaviour.
                change = f"writes text {tag.group(0).strip()!r} where the template has text{where}"
            elif not written[0][1] and not removed[0][1] and text_w.strip() and text_r.strip():
                # Text for text: one side is the case's own text, which varies from case to
                # case; the template's side and the place name the behaviour. A role or channel
                # word the renderer writes (framed by special tokens: 'analysis' where the
                # template has 'final') is not case text: it names the behaviour too.
                mine = _first_piece(written, after_special)
                change = (f"writes {'other text' if mine == 'text' else mine} where the template has "
                          f"{_shape(removed, after_special, limit=1).removesuffix(' …')}{where}")
            else:
                # Where the two sides differ in tokens, their first pieces name the choice; what
                # follows is as much the case's text as the renderer's. One special token
                # written for another is the same choice wherever it sits (GLM's closing marker
                # after a tool call or after an answer): the place is left out.
                both_special = written[0][1] and removed[0][1]
                change = (f"writes {_first_piece(written, after_special)} where the template has "
                          f"{_first_piece(removed, after_special)}{'' if both_special else where}")
    elif not (e_special or g_special) and _same_text_in_window(rows, at, min(div.get("expected_len", 0), div.get("got_len", 0))):
        # The same text, split into other tokens here (a seam's BPE); the difference that makes
        # the whole lists decode differently lies further on, past the window.
        change = _ENCODER.format(after=after)
    else:
        where = "" if e_special and g_special else (_context(rows, at) if not (e_special or g_special) else after)
        change = f"writes {_norm(g_piece, g_special)} where the template has {_norm(e_piece, e_special)}{where}"
    if div.get("unformable_ids"):
        change += " (vocabulary entries the model's BPE never forms)"
    # Not the area or the call: the same difference in a prompt, a full render and a supervised
    # example is one root cause (its class is the most severe of its tests').
    cls = "sampling" if "generation prompt" in what or "prompt" in what.split(":")[-1] else "training"
    return f"ids|{change}", change, cls


#: The same text split into other tokens: which pieces face each other is the case's text at a
#: seam (``'.\n'`` for ``'.'``, ``'\n\n'`` for ``'\n'``), the behaviour is the renderer's encoder
#: (pieces encoded apart and joined): one finding, its pieces in the reproduction.
_ENCODER = "splits the template's text into other tokens{after} (encoder)"

Unit = tuple[str, bool]  # a special token whole, or one character of text


def _units(rows: dict[int, list[Any]], keys: list[int], side: int) -> list[Unit]:
    out: list[Unit] = []
    for k in keys:
        if rows[k][side] is None:
            break
        piece, special = str(rows[k][side + 1]), bool(rows[k][side + 2])
        out += [(piece, True)] if special else [(c, False) for c in piece]
    return out


def _text_edit(rows: dict[int, list[Any]], at: int, *, reach: int = 48, agree: int = 8) -> tuple[list[Unit], list[Unit], bool] | None:
    """(what the template has, what the renderer writes instead, whether a special token comes
    just before) from where the two texts part to the nearest point where they run together
    again for ``agree`` units (or to the end of the shorter window). Compared as text (specials
    whole), so a BPE seam does not hide the change; None where no such point lies within
    ``reach`` units the rest of both windows."""
    keys = sorted(k for k in rows if k >= at)
    expected, got = _units(rows, keys, 1), _units(rows, keys, 4)
    common = _common_length(expected, got)
    # Back to the start of a word cut in two ('analysis' for 'assistant' is not 'nalysis').
    while common > 0 and not expected[common - 1][1] and expected[common - 1][0].isalnum():
        common -= 1
    earlier = [k for k in sorted(rows) if k < at and rows[k][1] is not None]
    after_special = expected[common - 1][1] if common else bool(earlier and rows[earlier[-1]][3])
    expected, got = expected[common:], got[common:]
    best: tuple[int, int, int] | None = None
    for i in range(min(reach, len(expected)) + 1):
        for j in range(min(reach, len(got)) + 1):
            if best is not None and i + j >= best[0]:
                break
            if _agree(expected[i:], got[j:], agree):
                best = (i + j, i, j)
    if best is None:
        # They do not run together again within the window: both sides differ from here on,
        # and their first pieces are all a signature can say.
        return (expected, got, after_special) if expected and got else None
    return (expected[:best[1]], got[:best[2]], after_special) if best[0] else None


def _agree(a: list[Unit], b: list[Unit], need: int) -> bool:
    """Whether a and b start alike for ``need`` characters (a special token counts 4), or alike to
    the end of the shorter one over at least 2 units (the window ends there), or both end together."""
    weight = 0
    for x, y in zip(a, b):
        if x != y:
            return False
        weight += 4 if x[1] else 1
        if weight >= need:
            return True
    # Alike to the end of the shorter window: at least 2 units, or both end here together (the
    # template's '<think></think>' where the renderer ends its prompt with '</think>').
    return min(len(a), len(b)) >= 2 or (len(a) == len(b) > 0)


#: A tag spelled as text at the start of a change (``<think>``, ``</tool_call>``).
_TAG = re.compile(r"\s*</?[A-Za-z_][\w\-|]{0,24}>")


def _common_length(a: list[Unit], b: list[Unit]) -> int:
    """How many units ``a`` and ``b`` share from their start."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _lead(units: list[Unit]) -> str:
    """The text of ``units`` before their first special token."""
    out = ""
    for piece, special in units:
        if special:
            break
        out += piece
    return out


def _same_text_in_window(rows: dict[int, list[Any]], at: int, shorter: int) -> bool:
    """Whether both sides spell the same text from ``at`` to the end of the shorter window (to the
    end of both, where the shorter id list of ``shorter`` ids ends inside it)."""
    keys = sorted(k for k in rows if k >= at)
    expected, got = _units(rows, keys, 1), _units(rows, keys, 4)
    if not expected or expected[0][1]:
        return False
    if keys and keys[-1] + 1 >= shorter:
        # A list ends inside the window: alike to the end, or alike through a special token at
        # least (the split is closed there; what differs at the end is another matter, such as a
        # dropped newline after the final end-of-turn token).
        return expected == got or any(special for _, special in expected[:_common_length(expected, got)])
    n = min(len(expected), len(got))
    return expected[:n] == got[:n]


#: Characters of markup (JSON, headers, tags): text holding them is the template's structure, shown by shape.
_MARKUP = re.compile(r'[{}\[\]"<>#|\\=]')


def _shape(units: list[Unit], after_special: bool, *, specials: int = 3, limit: int = 99) -> str:
    """Units as a signature shows them: specials by name, a word between specials as it is (a
    role or channel name), newlines as they are, other whitespace as ``whitespace``, other text
    by its shape (``_norm``; a run of words as one word); cut after ``specials`` special tokens
    (what follows them is the case's own text)."""
    segments: list[tuple[str, bool]] = []
    for piece, special in units:
        if not special and segments and not segments[-1][1]:
            segments[-1] = (segments[-1][0] + piece, False)
        else:
            segments.append((piece, special))
    parts: list[str] = []
    seen = 0
    for n, (text, special) in enumerate(segments):
        if seen >= specials or n >= limit:
            parts.append("…")
            break
        if special:
            seen += 1
            parts.append(repr(text))
            continue
        framed = (segments[n - 1][1] if n else after_special) and (n + 1 == len(segments) or segments[n + 1][1])
        if framed and text.isalpha() and len(text) <= 12:
            parts.append(repr(text))
        elif not text.strip():
            parts.append(repr(text) if set(text) == {"\n"} else "whitespace")
        elif n:
            parts.append("…")  # the case's own text, after the change's own tokens
            break
        elif not _MARKUP.search(text):
            parts.append("text")  # prose or numbers: the case's own, whatever its words
        else:
            shape = re.sub(r"([a0])(?:[ ,.]*[a0])+", r"\1", _letters_and_digits(text))
            parts.append(f"text {shape[:24]!r}")
    return " ".join(parts)


def _first_piece(units: list[Unit], after_special: bool) -> str:
    """The first piece of one side of a change: a special token, a role word or whitespace as
    they are; other text, which faces tokens on the other side and is the case's own, as ``text``."""
    lead = _lead(units)
    shown = _shape(units, after_special, limit=1).removesuffix(" …")
    return shown if not lead.strip() or shown.startswith("'") else "text"


def _context(rows: dict[int, list[Any]], at: int) -> str:
    """Where a change sits: after the nearest special token within 3 ids before it, with the
    header word that follows a special kept (a role name: ``'<|im_start|>' 'assistant' '\n'``)
    and other text by its shape."""
    before = [rows[k] for k in range(at - 3, at) if k in rows and rows[k][1] is not None]
    last = max((i for i, r in enumerate(before) if r[3]), default=None)
    if last is None:
        return " at the start" if at == 0 else ""
    parts = [repr(str(before[last][2]))]
    for i, r in enumerate(before[last + 1:]):
        word = str(r[2])
        parts.append(repr(word) if i == 0 and word.isalpha() and len(word) <= 12 else _norm(word, bool(r[3])))
    return " after " + " ".join(parts)


_WEIGHT_LIST = re.compile(r"(trained but should not be|not trained but should be): \[(.*?)\]$", re.MULTILINE)
_WEIGHT_ITEM = re.compile(r"\d+:('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")


def _weights_signature(reason: str) -> tuple[str, str] | None:
    """Which pieces a supervised example trains that it should not, and the reverse."""
    lists = {m.group(1): [p for p in _WEIGHT_ITEM.findall(m.group(2))] for m in _WEIGHT_LIST.finditer(reason)}
    if not lists:
        return None

    def norm(pieces: list[str]) -> str:
        out = []
        for p in pieces[:1]:  # where it starts: the rest follows from the same cause
            text = p[1:-1]
            # Which think tag an example weighs otherwise (Kimi K2-Thinking's '<think>', K2.5's
            # '</think>') is where the template's block meets the renderer's: one weight rule.
            out.append("a think tag" if _REASONING_MARKS.fullmatch(text) else
                       p if not text.strip(" \\n") or text.startswith("<") else "text")
        return " ".join(dict.fromkeys(out)) or "nothing"

    extra = norm(lists.get("trained but should not be", []))
    missing = norm(lists.get("not trained but should be", []))
    parts = ([f"trains {extra} that is not the turn's own"] if extra != "nothing" else []) + (
        [f"leaves {missing} of the turn untrained"] if missing != "nothing" else [])
    return f"weights|extra:{extra}|missing:{missing}", "; ".join(parts) or "weights differ"


def signature_of(record: dict[str, Any]) -> tuple[str, str, str]:
    """(signature, title, class) of one failing test record."""
    area = record["area"]
    if area == "injection" and not record.get("exception"):
        return _INJECTION + ("security",)
    weighted = area in ("loss_weights", "images")  # the images area words its weight failures the same way
    weights = _weights_signature(record.get("reason", "")) if weighted and not record.get("divergence") else None
    if weights:
        choice = re.search(r"wrong tokens for (\w+)", record.get("reason", ""))
        # One signature for both areas: a renderer's weight rule is one behaviour, images or not.
        return f"loss_weights|{weights[0]}", f"{weights[1]} (supervised weights{', ' + choice.group(1) if choice else ''})", "training"
    if record.get("exception"):
        # One exception is one finding, whichever checks it breaks (its class: the most severe).
        exc = re.sub(r"\d+", "N", record["exception"].splitlines()[0])[:120]
        call = record["nodeid"].split("::")[-1].split("[")[0]
        # A crash is never a forged role boundary, whichever area met it: the injection area's
        # calls are a generation prompt (sampling) or a render (training).
        prompt_call = area == "injection" and "-prompt]" in record["nodeid"]
        cls = "sampling" if area in _SAMPLING_AREAS or prompt_call else "training"
        return f"raises|{exc}", f"raises {exc} (e.g. {call})", cls
    div = record.get("divergence")
    if div:
        sig, title, cls = _divergence_signature(area, div)
        if area == "injection":
            cls = "security"
        elif area in _SAMPLING_AREAS and cls == "training":
            cls = "sampling"
        return sig, title, cls
    first = _first_line(record)
    # The train-on choice is not the root cause: the same miscount breaks every choice.
    first = re.sub(r" of (last_assistant_message|last_assistant_turn|all_assistant_messages|all_messages|all_tokens)\b",
                   " of a train-on choice", first)
    if first.startswith(_PARSE_PROBLEMS):
        problem = _normalize_reason(first)
        # The title leaves out how tool calls are compared (typed JSON, string spellings): the
        # failure's own message, in the reproduction, says it.
        return f"parse|{problem}", f"parse: {problem.split(' (compared as ')[0]}", "sampling"
    if first.startswith(_STREAM_PROBLEMS):
        problem = _normalize_reason(first)
        # Which markup shows (<tool_call>, <|tool_calls_section_begin|>) is the family's token,
        # not the behaviour: a stream that passes special tokens through as text.
        behaviour = re.sub(r"special token \S+", "special token …", problem)
        return f"stream|{behaviour}", f"{problem} (streaming)", "sampling"
    reason = _normalize_reason(first)
    cls = "security" if area == "injection" else ("sampling" if area in _SAMPLING_AREAS or area == "generated" else "training")
    if area == "template_parity" and "generation_prompt" in record["nodeid"]:
        cls = "sampling"
    return f"{area}|{reason}", f"{reason} ({area})", cls


#: Markers of a reasoning block, whichever family's template: the think tags (special tokens or
#: text; harmony's analysis channel is told by its name beside the channel token).
_REASONING_MARKS = re.compile(r"</?think>")
#: A change of whitespace only: whitespace left out, written more, or written otherwise.
_WHITESPACE = re.compile(r"(leaves out|writes) (?:(?:whitespace|'(?:\\[ntr]| )+') ?)+( more)?(,| after | at the |$)"
                         r"|writes other whitespace than the template")
#: Regions: the part of a conversation where one renderer's differences are one behaviour, the
#: code that writes that part, however the first divergence falls case by case. In the order a
#: difference is placed: the first that holds it.
REGIONS = {
    "reasoning": "the reasoning block differs",
    "tool_calls": "the tool calls differ",
    "whitespace": "whitespace differs",
    "system": "the system prompt or tool declarations differ",
}


def region_of(sig: str, part: dict[str, Any] | None = None) -> str:
    """The region of a difference with signature ``sig`` found at ``part`` of the conversation
    (``parts.part_at``; None where unknown), "" for none:

    * ``reasoning``: the change or its place names a think tag (a token or spelled as text) or
      harmony's analysis channel;
    * ``tool_calls``: it lies in the body of an assistant message with tool calls, or in a
      tool result (a JSON argument's spacing included);
    * ``whitespace``: the change is whitespace only (message text stripped, a newline written
      more or otherwise), wherever else it sits (a stripped system prompt included);
    * ``system``: it lies in what the template writes before the first message's own text
      (BOS, a default system prompt, date lines, tool declarations) or in a system message, or
      the change names a system (harmony: developer) header's role word.

    A renderer that writes one of these parts its own way meets the template's ids at a different
    first piece in a prompt, a full render, each per-turn example and each case: measured on the
    2026-12-06 nightly, one such behaviour showed as two to nine signatures (tinker's Llama
    default system text as four, tml's reasoning block for Nemotron as nine). Counted once, its
    signatures listed. ``group_findings`` places a signature once per run, in the region most of
    its tests' parts give, so that one signature is in one finding."""
    if not sig.startswith("ids|") or "|final-end-of-turn|" in sig:
        return ""
    change = sig.removeprefix("ids|")
    if _REASONING_MARKS.search(change) or ("'analysis'" in change and "'<|channel|>'" in change):
        return "reasoning"
    part = part or {}
    if part.get("role") == "tool" or (part.get("tool_calls") and part.get("zone") == "body"):
        return "tool_calls"
    if _WHITESPACE.match(change):
        return "whitespace"
    in_system = (part.get("message") == 0 and part.get("zone") == "header") or part.get("role") in _SYSTEM_ROLES
    return "system" if in_system or any(f"'{role}'" in change for role in _SYSTEM_ROLES) else ""


#: Role words of a system prompt's header (shown quoted in a signature: a word framed by special tokens).
_SYSTEM_ROLES = ("system", "developer")


def group_findings(records: Iterable[dict[str, Any]]) -> list[Finding]:
    """The failing records grouped into findings, most severe class first, then most tests.

    Records with one signature are one finding; the differences of one region (``region_of``) are
    one finding whatever their signatures (``region|<name>``), each signature kept as a member. A
    signature's region is the one most of its records' parts give (a record of unknown part, such
    as a generated conversation's, gives none where the signature alone does not)."""
    by_sig: dict[str, Finding] = {}
    votes: dict[str, Counter[str]] = {}
    for r in records:
        if r.get("outcome") not in _FAILING:
            continue
        sig, title, cls = signature_of(r)
        f = by_sig.setdefault(sig, Finding(sig, cls, title, r["area"]))
        if CLASSES.index(cls) < CLASSES.index(f.cls):
            f.cls = cls
        f.tests.append(r)
        region = region_of(sig, (r.get("divergence") or {}).get("part"))
        if region:
            votes.setdefault(sig, Counter())[region] += 1
    found: dict[str, Finding] = {}
    shapes: dict[str, list[Finding]] = {}
    for sig, f in by_sig.items():
        region = votes[sig].most_common(1)[0][0] if sig in votes else ""
        if region:
            shapes.setdefault(region, []).append(f)
        else:
            found[sig] = f
    for region, members in shapes.items():
        ranked = sorted(members, key=_rank)
        head = ranked[0]
        merged = Finding(f"region|{region}", head.cls, region_title(region, head.title, len(ranked)), head.area,
                         [r for m in ranked for r in m.tests],
                         [{"signature": m.signature, "class": m.cls, "title": m.title, "tests": m.count} for m in ranked])
        found[merged.signature] = merged
    return sorted(found.values(), key=_rank)


def _rank(f: Finding) -> tuple[int, int, str]:
    """Most severe class first, then most tests."""
    return CLASSES.index(f.cls), -f.count, f.title


def region_title(region: str, head: str, shapes: int) -> str:
    """``the reasoning block differs: <its most common difference> (and N more way(s))``."""
    more = f" (and {shapes - 1} more way(s))" if shapes > 1 else ""
    return f"{REGIONS[region]}: {head}{more}"
