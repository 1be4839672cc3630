"""Every golden, checked by invariants written apart from the code that derives them.

The goldens are derived from prefix and probe renders of the template (``conformance/oracle/derivation.py``,
``turn_spans.py``, ``message_spans.py``); these checks read only the stored records, the corpus
and the registry pins, with plain text searches:

* spans are sorted, inside the supervised example, and do not overlap;
* an assistant span ends at an end-of-turn token and holds no other stop id, and never holds
  another message's content (a span that runs on into the next user turn does);
* a body of ``all_messages`` holds its message's content and nothing of a header before it;
* a completion holds its message: its content, its tool calls' string arguments; a call the
  completion holds is expected (a call whose name the template drops is still a call); an
  argument's string spelling (a value the template writes as it writes that string) is bare text
  in it;
* tool arguments render as the case wrote them where the template writes a JSON text verbatim;
* a sampled example's completion ends with a stop id;
* a user-turn prompt decodes to its text, holds the conversation's last answer, and ends with a
  user turn's header.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from conformance.fixtures.cases import load_cases
from conformance.fixtures.goldens import golden_dir
from conformance.fixtures.registry import load_registry

_ASSISTANT_CHOICES = ("last_assistant_message", "last_assistant_turn", "all_assistant_messages")


@cache
def _cases() -> dict[str, Any]:
    return {c.id: c for c in load_cases() if c.builtin}


def _goldens(model_id: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    entry = load_registry()[model_id]
    d = golden_dir(entry)
    pins = json.loads((d / "manifest.json").read_text(encoding="utf-8"))["registry"]
    for p in sorted(d.glob("*/*.json")):
        yield f"{p.parent.name}/{p.stem}", json.loads(p.read_text(encoding="utf-8")), pins


@cache
def _tokenizer(model_id: str) -> Any:
    return load_registry()[model_id].tokenizer()


def _decoder(model_id: str) -> Any:
    tok = _tokenizer(model_id)
    return lambda tokens: tok.decode([t[0] for t in tokens], skip_special_tokens=False)


def _own_texts(case: Any) -> str:
    """Everything assistant messages say (a user's text quoted there is not a leak)."""
    out = []
    for m in case.messages:
        if m["role"] == "assistant":
            out += [m.get("content") or "", m.get("reasoning_content") or ""]
            out += [json.dumps(c["function"]) for c in m.get("tool_calls") or []]
    return "\n".join(out)


def _appears(value: str, text: str) -> bool:
    return any(v in text for v in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]))


def _check(name: str, g: dict[str, Any], pins: dict[str, Any]) -> list[str]:
    case = _cases()[g["case"]]
    _text = _decoder(g["model"])
    problems: list[str] = []
    if g["full"].get("error"):
        return problems
    example = g["full"]["tokens"] + (g.get("supervised_tail", {}).get("tokens") or [])
    stops = set(g["stop_ids"])
    ends = stops | {t[0] for t in example if t[1] in pins.get("history_end_of_turn", [])}
    own = _own_texts(case)
    others = [(i, m["content"].strip()) for i, m in enumerate(case.messages)
              if m["role"] != "assistant" and isinstance(m.get("content"), str) and len(m["content"].strip()) >= 4]
    others = [(i, c) for i, c in others if c not in own]
    for choice, w in g["weights"].items():
        if w.get("error"):
            continue
        spans = w["spans"]
        if any(not 0 <= a < b <= len(example) for a, b in spans) or spans != sorted(spans):
            problems.append(f"{choice}: spans {spans} outside [0, {len(example)}) or unsorted")
            continue
        if any(b1 > a2 for (_, b1), (a2, _) in zip(spans, spans[1:])):
            problems.append(f"{choice}: spans overlap: {spans}")
        if choice in _ASSISTANT_CHOICES or choice == "all_messages":
            known = g["weights"]["all_assistant_messages"].get("spans", [])
            assistant_spans = spans if choice != "all_messages" else [s for s in spans if s in known]
            for a, b in assistant_spans:
                if example[b - 1][0] not in ends:
                    problems.append(f"{choice}: span [{a}, {b}) ends with {example[b - 1][1]!r}, not an end-of-turn token")
                inner = [t[1] for t in example[a : b - 1] if t[0] in stops]
                if inner:
                    problems.append(f"{choice}: span [{a}, {b}) holds the stop id(s) {inner} before its end")
                text = _text(example[a:b])
                for i, content in others:
                    if _appears(content, text):
                        problems.append(f"{choice}: span [{a}, {b}) holds message {i}'s content {content[:30]!r}")
        if choice == "all_messages" and not g["weights"]["all_assistant_messages"].get("error"):
            bodies = [s for s in spans if s not in g["weights"]["all_assistant_messages"]["spans"]]
            for a, b in bodies:
                text = _text(example[a:b])
                text = unicodedata.normalize("NFC", text)  # a tokenizer may normalize what it encodes
                contents = [unicodedata.normalize("NFC", m["content"].strip()) for m in case.messages
                            if m["role"] != "assistant" and isinstance(m.get("content"), str)]
                spelled = [e for c in contents if c for e in (c, json.dumps(c)[1:-1], json.dumps(c, ensure_ascii=False)[1:-1])]
                found = [e for e in spelled if e[:20] in text]
                if not found and "" not in contents:  # an empty message's body is the template text after it
                    problems.append(f"all_messages: body [{a}, {b}) {text[:40]!r} holds no message's content")
                for seen in found[:1]:
                    before = text[: text.find(seen[:20])]
                    if before.strip(' \n\t"'):
                        problems.append(f"all_messages: body [{a}, {b}) starts with {before[:30]!r} before its content (a header)")
    comp = g["completion"]
    last = case.messages[-1]
    if not comp.get("error") and last["role"] == "assistant":
        text = _text(comp["tokens"])
        exp = comp.get("expected")
        if exp is not None:
            if exp["content"].strip() and exp["content"].strip() not in text and not _appears(exp["content"].strip(), text):
                problems.append(f"completion: does not hold the expected content {exp['content'][:30]!r}")
            for j, call in enumerate(last.get("tool_calls") or []):
                args = call["function"]["arguments"]
                values = [v for v in (json.loads(args) if isinstance(args, str) else args).values() if isinstance(v, str) and len(v) >= 3]
                held = values and all(_appears(v, text) for v in values)
                if held:  # whatever the record says was dropped: a call the completion holds is a call
                    want = [c for c in exp["tool_calls"] if c["arguments"] == (json.loads(args) if isinstance(args, str) else args)]
                    if not want:
                        problems.append(f"completion: holds tool call {j} (its arguments are in it) but expects no such call")
            for call in exp["tool_calls"]:
                for key, spelled in (call.get("string_spellings") or {}).items():
                    # The template writes the value as bare text: that text, between its own markup.
                    if f"\n{spelled}\n" not in text and f">{spelled}<" not in text:
                        problems.append(f"completion: string spelling {spelled!r} of argument {key!r} is not bare text in it")
                    if isinstance(call["arguments"].get(key), str):
                        problems.append(f"completion: argument {key!r} is a string, yet has a string spelling")
    if pins.get("tool_arguments") in ("as_written", "string"):
        full_text = g["full"].get("text", "")
        for i, m in enumerate(case.messages):
            for j, call in enumerate(m.get("tool_calls") or []):
                args = call["function"]["arguments"]
                gone = {d["field"] for d in g["dropped"] if d["message"] == i}
                if isinstance(args, str) and f"tool_calls[{j}]" not in gone and args not in full_text:
                    problems.append(f"message {i} tool_calls[{j}]: arguments are not rendered as the case wrote them ({args[:40]!r})")
    up = g.get("user_prompt")
    if up and not up.get("error"):
        text = _text(up["tokens"])
        if unicodedata.normalize("NFC", text) != unicodedata.normalize("NFC", up["text"]):  # Qwen's tokenizer normalizes
            problems.append("user_prompt: its tokens do not decode to its text")
        # The answer after any think block (Qwen3 moves reasoning out of history once a user follows).
        answer = (last.get("content") or "").split("</think>")[-1].strip() if last["role"] == "assistant" else ""
        if len(answer) >= 4 and answer in g["full"]["text"] and answer not in text:
            problems.append(f"user_prompt: does not hold the conversation's last answer {answer[:30]!r}")
        # After the answer comes a user turn's header (Mistral folds the system prompt in after it).
        after = text[text.rfind(answer) + len(answer):] if len(answer) >= 4 and answer in text else _text(up["tokens"][-6:])
        if not any(marker in after for marker in ("user", "User", "[INST]")):
            problems.append(f"user_prompt: ends with {after[-40:]!r}, no user turn's header after the last answer")
    for ex in g.get("sampled_examples", []):
        if not ex.get("error") and ex["completion"][-1][0] not in stops:
            problems.append(f"sampled example of message {ex['message']} ends with {ex['completion'][-1][1]!r}, not a stop id")
    return problems


@pytest.mark.parametrize("model_id", list(load_registry()))
def test_every_golden_keeps_the_invariants(model_id):
    problems = [f"{name}: {p}" for name, g, pins in _goldens(model_id) for p in _check(name, g, pins)]
    assert not problems, f"{len(problems)} golden invariant(s) broken:\n" + "\n".join(problems[:40])


def test_the_invariants_catch_the_golden_defects_they_were_written_for(tmp_path):
    """The four classes of wrong goldens found by an audit, rebuilt on real goldens."""
    entry = load_registry()["openai/gpt-oss-20b"]
    d = golden_dir(entry)
    pins = json.loads((d / "manifest.json").read_text())["registry"]
    g = json.loads((d / "reasoning_medium" / "multiturn-5-turns-short.json").read_text())
    assert not _check("ok", g, pins)
    # A span that runs from an answer to the end of the conversation trains the user turns after it.
    spans = g["weights"]["all_assistant_messages"]["spans"]
    g["weights"]["all_assistant_messages"]["spans"] = [[a, spans[-1][1]] if k == 0 else [a, b] for k, (a, b) in enumerate(spans)][:1]
    assert any("holds message" in p or "holds the stop" in p for p in _check("runs-on", g, pins))
    # Arguments re-serialized instead of rendered as written.
    q = load_registry()["Qwen/Qwen3-8B"]
    qd = golden_dir(q)
    qpins = json.loads((qd / "manifest.json").read_text())["registry"]
    nums = json.loads((qd / "thinking" / "tools-args-numbers.json").read_text())
    assert not _check("ok", nums, qpins)
    nums["full"]["text"] = nums["full"]["text"].replace("1e-7", "1e-07")
    assert any("not rendered as the case wrote them" in p for p in _check("reserialized", nums, qpins))
    # A completion that holds a call whose name the template drops, expected to hold none.
    k = load_registry()["moonshotai/Kimi-K2.6"]
    kd = golden_dir(k)
    kpins = json.loads((kd / "manifest.json").read_text())["registry"]
    call = json.loads((kd / "thinking" / "tools-single-call.json").read_text())
    assert not _check("ok", call, kpins) and call["completion"]["expected"]["tool_calls"]
    call["completion"]["expected"]["tool_calls"] = []
    assert any("expects no such call" in p for p in _check("lost-call", call, kpins))
    # A string spelling the completion does not hold as bare text (the template wrote something else).
    q35 = load_registry()["Qwen/Qwen3.5-9B"]
    q35d = golden_dir(q35)
    q35pins = json.loads((q35d / "manifest.json").read_text())["registry"]
    null = json.loads((q35d / "no_thinking" / "tools-args-null.json").read_text())
    assert not _check("ok", null, q35pins) and null["completion"]["expected"]["tool_calls"][0]["string_spellings"]
    null["completion"]["expected"]["tool_calls"][0]["string_spellings"]["enabled"] = "false"
    assert any("is not bare text" in p for p in _check("spelling", null, q35pins))
    assert Path(d).is_dir()


def test_every_golden_conforms_to_the_schema():
    """``fixtures/schema/golden.schema.json``: every stored golden, every field (a derived part is
    its value or the reason it is not derivable, never both, never a bare string)."""
    from conformance.fixtures.goldens import golden_problems

    bad = {}
    for model_id in load_registry():
        for name, g, _ in _goldens(model_id):
            problems = golden_problems(g)
            if problems:
                bad[f"{model_id} {name}"] = problems[:2]
    assert not bad, f"{len(bad)} goldens off the schema, e.g. {dict(list(bad.items())[:3])}"


def test_every_golden_reads_as_typed_values_and_back_unchanged():
    """``conformance.fixtures.golden_record``: what the suite reads is exactly what is stored."""
    from conformance.fixtures.golden_record import Golden

    changed = [f"{model_id} {name}" for model_id in load_registry() for name, g, _ in _goldens(model_id)
               if Golden.from_json(g).to_json() != g]
    assert not changed, f"{len(changed)} goldens change when read as typed values, e.g. {changed[:3]}"


def test_a_golden_of_another_format_is_refused_by_name():
    from conformance.fixtures.golden_record import Golden, GoldenFormatError

    _, g, _ = next(_goldens("Qwen/Qwen3-8B"))
    with pytest.raises(GoldenFormatError, match=r"'Qwen/Qwen3-8B'.*KeyError: 'completion'"):
        Golden.from_json({k: v for k, v in g.items() if k != "completion"})
    with pytest.raises(GoldenFormatError, match="schema_version 2"):
        Golden.from_json({**g, "schema_version": 2})


def test_a_golden_off_the_schema_is_named_where_it_departs():
    from conformance.fixtures.goldens import golden_problems

    _, g, _ = next(_goldens("Qwen/Qwen3-8B"))
    assert golden_problems(g) == []
    broken = {**g, "prompt": {"error": None, "text": "x", "tokens": [[1]]}, "weights": {**g["weights"], "all_tokens": "no"}}
    problems = golden_problems(broken)
    assert any(p.startswith("prompt:") for p in problems) and any(p.startswith("weights/all_tokens:") for p in problems), problems


def test_per_message_spans_each_start_in_their_own_message():
    """``Golden.message_spans`` (what ``customized`` trains, message by message) reads the
    message order off the derived choices; each span must start among its own message's tokens
    (from the first token its addition brought to the next message's first: the attribution, which
    the derivation found independently), never in another message's."""
    from conformance.fixtures.golden_record import Golden, Reason

    cases = {c.id: c for c in load_cases()}
    problems, checked = [], 0
    for model_id in load_registry():
        for name, raw, _ in _goldens(model_id):
            g = Golden.from_json(raw)
            case = cases.get(g.case)
            if case is None or isinstance(g.full, Reason) or g.full.attribution is None or isinstance(g.full.attribution, Reason):
                continue
            spans = g.message_spans([m["role"] for m in case.messages])
            if isinstance(spans, Reason):
                continue
            runs = {m: (s, e) for m, s, e in g.full.attribution.runs}
            checked += 1
            for k, (start, _) in spans.items():
                # From its own first token to the next message's first: an empty answer's span is
                # just its end-of-turn token, which follows the tokens its addition brought.
                nxt = runs[k + 1][0] if k + 1 in runs else len(g.full.ids) + len(g.tail_ids)
                if k in runs and not runs[k][0] <= start < nxt:
                    problems.append(f"{name}: message {k}'s span starts at {start}, outside [{runs[k][0]}, {nxt})")
    assert checked > 500 and not problems, f"{checked} goldens checked; " + "\n".join(problems[:20])


def test_the_invariants_catch_a_user_prompt_that_opens_the_wrong_turn():
    """A user-turn prompt cut at the assistant's header (an oracle that opened the wrong turn), or
    before the conversation's last answer, is caught."""
    q = load_registry()["Qwen/Qwen3-8B"]
    qd = golden_dir(q)
    pins = json.loads((qd / "manifest.json").read_text())["registry"]
    g = json.loads((qd / "thinking" / "basic-two-turns.json").read_text())
    assert not _check("ok", g, pins)
    up = g["user_prompt"]
    tok = _tokenizer("Qwen/Qwen3-8B")
    wrong = [[i, tok.decode([i])] for i in tok.encode("<|im_start|>assistant\n", add_special_tokens=False)]
    text = up["text"].removesuffix("user\n") + "assistant\n"
    as_assistant = {**g, "user_prompt": {**up, "tokens": up["tokens"][:-3] + wrong, "text": text}}
    assert any("no user turn's header" in p for p in _check("assistant", as_assistant, pins))
    early = {**g, "user_prompt": {**g["prompt"]}}
    assert any("does not hold the conversation's last answer" in p for p in _check("early", early, pins))


def test_a_value_the_template_writes_as_bare_text_may_be_parsed_as_that_text():
    """Qwen3.5 writes ``<parameter=enabled>\\nFalse\\n</parameter>``: the string "False" renders
    the same, so without the tool's schema a parser may return either. Qwen3-8B writes JSON, where
    ``false`` and ``"False"`` differ: only the typed value is accepted there."""
    from conformance.fixtures.goldens import load_golden_record
    from conformance.protocol import ParsedResponse, Termination
    from conformance.suite.support import parse_problems

    qwen35 = load_golden_record(load_registry()["Qwen/Qwen3.5-9B"], "no_thinking", "tools-args-null")["completion"]["expected"]
    qwen3 = load_golden_record(load_registry()["Qwen/Qwen3-8B"], "no_thinking", "tools-args-null")["completion"]["expected"]
    assert qwen35["tool_calls"][0]["string_spellings"] == {"enabled": "False", "note": "None"}
    assert "string_spellings" not in qwen3["tool_calls"][0]
    typed = dict(qwen3["tool_calls"][0])
    as_text = {"name": typed["name"], "arguments": {**typed["arguments"], "enabled": "False", "note": "None"}}

    def parse(call):
        return ParsedResponse(content=qwen3["content"], reasoning_content=qwen3["reasoning_content"], tool_calls=[call],
                              termination=Termination.STOP_SEQUENCE)

    assert parse_problems(parse(as_text), qwen35) == []
    assert parse_problems(parse({"name": typed["name"], "arguments": typed["arguments"]}), qwen35) == []
    assert parse_problems(parse(as_text), qwen3), "JSON arguments are typed: a string for false is a parse difference"
    wrong = {"name": typed["name"], "arguments": {**typed["arguments"], "enabled": "True"}}
    assert parse_problems(parse(wrong), qwen35), "only the spelling of the value itself is accepted"
