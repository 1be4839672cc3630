"""Turn one (model, variant, case) into a golden record by asking the oracle.

The record is plain JSON (see ``fixtures/golden/README.md`` for every field). Everything here is
derived from renders of the template; nothing is hand-written.
"""

from __future__ import annotations

from typing import Any

from conformance.cases import Case
from conformance.messages import normalize_tool_calls
from conformance.oracle import Encoded, Oracle, TemplateRenderError
from conformance.registry import Variant

__all__ = ["GOLDEN_SCHEMA_VERSION", "derive_golden", "TRAIN_ON_CHOICES"]

GOLDEN_SCHEMA_VERSION = 1
TRAIN_ON_CHOICES = ("last_assistant_message", "all_assistant_messages")


def _first_divergence(a: list[int], b: list[int]) -> int:
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return k
    return min(len(a), len(b))


def _is_prefix(p: list[int], full: list[int]) -> bool:
    return len(p) <= len(full) and full[: len(p)] == p


def _encoded_record(oracle: Oracle, enc: Encoded) -> dict[str, Any]:
    rec: dict[str, Any] = {"error": None, "text": enc.text, "tokens": oracle.pieces(enc.ids)}
    if enc.literal_ids != enc.ids:
        rec["literal_ids"] = enc.literal_ids
    if enc.safe_note:
        rec["safe_note"] = enc.safe_note
    return rec


def _dropped(case: Case, full_text: str, oracle: Oracle, last_text: str | None = None) -> list[dict[str, Any]]:
    """Message fields whose text does not appear in the render (the template dropped them).

    The final assistant message is looked for in its own completion text when that is known, so
    a field cannot hide behind the same words elsewhere (a user asking about "Rome" does not make
    a dropped tool call with city "Rome" look rendered)."""
    out = []
    for i, m in enumerate(case.messages):
        text = last_text if (last_text is not None and i == len(case.messages) - 1) else full_text
        fields = [("content", m.get("content"))]
        fields.append(("reasoning_content", m.get("reasoning_content")))
        for f, value in fields:
            if isinstance(value, str) and value.strip() and value.strip() not in text:
                out.append({"message": i, "field": f})
        for j, call in enumerate(normalize_tool_calls(m.get("tool_calls"))):
            if call["name"] not in text or not all(_appears(v, text) for v in _string_leaves(call["arguments"])):
                out.append({"message": i, "field": f"tool_calls[{j}]"})
    return out


def _string_leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        return [x for v in value.values() for x in _string_leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _string_leaves(v)]
    return []


def _appears(value: str, text: str) -> bool:
    """A string argument value is rendered raw or JSON-escaped (either ASCII mode)."""
    import json

    return any(v in text for v in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]))


def _spelled_markup(oracle: Oracle, message: dict[str, Any]) -> list[str]:
    texts = [message.get("content") or "", message.get("reasoning_content") or ""]
    return sorted({t for t in oracle.added_tokens for x in texts if t in x})


def _span_after(prompt_ids: list[int], full_ids: list[int], stop_ids: list[int]) -> tuple[int, int] | str:
    if not _is_prefix(prompt_ids, full_ids):
        k = _first_divergence(prompt_ids, full_ids)
        return f"the full render is not an extension of the generation prompt (first divergence at token {k})"
    for j in range(len(prompt_ids), len(full_ids)):
        if full_ids[j] in stop_ids:
            return (len(prompt_ids), j + 1)
    return "no end-of-turn token follows the generation prompt in the full render"


def _expected_message(oracle: Oracle, case: Case, index: int, dropped: list[dict[str, Any]]) -> dict[str, Any]:
    m = case.messages[index]
    gone = {d["field"] for d in dropped if d["message"] == index}
    exp: dict[str, Any] = {
        "content": "" if "content" in gone else (m.get("content") or ""),
        "reasoning_content": "" if "reasoning_content" in gone else (m.get("reasoning_content") or ""),
        "tool_calls": [c for j, c in enumerate(normalize_tool_calls(m.get("tool_calls"))) if f"tool_calls[{j}]" not in gone],
    }
    if oracle.entry.tool_call_content_channel == "reasoning" and m.get("tool_calls") and exp["content"]:
        # This template renders the text of a tool-calling message as reasoning (gpt-oss: the
        # analysis channel), so that is where a parser finds it.
        exp["reasoning_content"] = (exp["reasoning_content"] + exp["content"]) if not exp["reasoning_content"] else exp["reasoning_content"]
        exp["content"] = ""
    return exp


def derive_golden(oracle: Oracle, variant: Variant, case: Case) -> dict[str, Any]:
    return _with_second_oracle(oracle, variant, case, _derive(oracle, variant, case))


def _derive(oracle: Oracle, variant: Variant, case: Case) -> dict[str, Any]:
    msgs = case.messages_list()
    tools = case.tools_list()
    last = case.last_assistant_index
    prompt_msgs = msgs[:last] if last is not None else msgs
    rec: dict[str, Any] = {
        "schema_version": GOLDEN_SCHEMA_VERSION,
        "case": case.id,
        "model": oracle.entry.model_id,
        "variant": variant.name,
        "stop_ids": oracle.stop_ids,
    }

    try:
        prompt = oracle.encode(prompt_msgs, tools, variant, add_generation_prompt=True)
        rec["prompt"] = _encoded_record(oracle, prompt)
    except TemplateRenderError as e:
        prompt = None
        rec["prompt"] = {"error": str(e)}

    full: Encoded | None = None
    if last is None:
        rec["full"] = {"error": "case does not end with an assistant message: nothing to complete"}
    else:
        try:
            full = oracle.encode(msgs, tools, variant, add_generation_prompt=False)
            rec["full"] = _encoded_record(oracle, full)
        except TemplateRenderError as e:
            rec["full"] = {"error": str(e)}

    injected = (prompt.injected if prompt else []) or (full.injected if full else [])
    if injected:
        rec["injection"] = {"found": injected}

    if full is None:
        rec["dropped"] = []
        rec["completion"] = {"error": rec["full"]["error"]}
        rec["weights"] = {c: {"error": rec["full"]["error"]} for c in TRAIN_ON_CHOICES}
        return rec

    rec["full"]["attribution"] = _attribution(oracle, case, variant, full.ids)
    assert last is not None
    span = _span_after(prompt.ids, full.ids, oracle.stop_ids) if prompt is not None else None
    last_text = oracle.tok.decode(full.ids[span[0] : span[1]]) if isinstance(span, tuple) else None
    dropped = _dropped(case, full.text, oracle, last_text)
    rec["dropped"] = dropped

    if prompt is None:
        rec["completion"] = {"error": "the generation prompt cannot be rendered"}
    else:
        assert span is not None
        if isinstance(span, str):
            rec["completion"] = {"error": span}
        else:
            rec["completion"] = {
                "error": None,
                "start": span[0],
                "tokens": oracle.pieces(full.ids[span[0] : span[1]]),
                "expected": _expected_message(oracle, case, last, dropped),
            }
            spelled = _spelled_markup(oracle, case.messages[last])
            if spelled:
                # The template emits such text as its own markup (and Qwen3 even re-parses
                # <think>), so no parser can tell it from structure: the round trip is undefined.
                rec["completion"]["expected"] = None
                rec["completion"]["expected_error"] = (
                    f"the final assistant message spells template tokens {spelled}: its parse is ambiguous"
                )
    rec["weights"] = _weights(oracle, case, variant, full.ids, rec["completion"])
    return rec


def _with_second_oracle(oracle: Oracle, variant: Variant, case: Case, rec: dict[str, Any]) -> dict[str, Any]:
    if oracle.entry.second_oracle == "openai-harmony":
        from conformance.harmony_oracle import HarmonyOracle

        harmony = HarmonyOracle(oracle.entry.pinned_date, oracle.entry.root / "vocab")
        rec["second_oracle"] = harmony.record(rec, case.messages_list(), case.tools_list(), variant.template_kwargs, case.last_assistant_index)
    return rec


def _weights(oracle: Oracle, case: Case, variant: Variant, full_ids: list[int], completion: dict[str, Any]) -> dict[str, Any]:
    """Spans of ``full`` a supervised example trains on (weight 1); all other tokens weigh 0.

    A span runs from the end of that assistant message's generation prompt through its
    end-of-turn token: the tokens the model itself samples. Template text after the stop token
    (Qwen's trailing newline) is in the example with weight 0.
    """
    out: dict[str, Any] = {}
    if completion.get("error"):
        out["last_assistant_message"] = {"error": completion["error"]}
    else:
        start = completion["start"]
        out["last_assistant_message"] = {"error": None, "spans": [[start, start + len(completion["tokens"])]]}
    msgs = case.messages_list()
    tools = case.tools_list()
    spans = []
    for k, m in enumerate(msgs):
        if m["role"] != "assistant":
            continue
        try:
            gen = oracle.encode(msgs[:k], tools, variant, add_generation_prompt=True)
        except TemplateRenderError as e:
            out["all_assistant_messages"] = {"error": f"generation prompt before message {k}: {e}"}
            return out
        span = _span_after(gen.ids, full_ids, oracle.stop_ids)
        if isinstance(span, str):
            out["all_assistant_messages"] = {"error": f"assistant message {k}: {span}"}
            return out
        spans.append(list(span))
    out["all_assistant_messages"] = {"error": None, "spans": spans}
    return out


def _attribution(oracle: Oracle, case: Case, variant: Variant, full_ids: list[int]) -> dict[str, Any]:
    """Runs ``[message_index, start, end)`` over ``full``: the tokens that appeared when message
    ``i`` was added. Derivable only when each prefix render is a token prefix of the next."""
    msgs = case.messages_list()
    tools = case.tools_list()
    runs, prev = [], 0
    for k in range(1, len(msgs) + 1):
        try:
            ids = full_ids if k == len(msgs) else oracle.encode(msgs[:k], tools, variant, add_generation_prompt=False).ids
        except TemplateRenderError as e:
            return {"error": f"messages[:{k}] cannot be rendered alone: {e}"}
        if not _is_prefix(ids, full_ids):
            d = _first_divergence(ids, full_ids)
            return {"error": f"render of messages[:{k}] is not a token prefix of the full render (diverges at token {d})"}
        if len(ids) < prev:
            return {"error": f"render of messages[:{k}] is shorter than messages[:{k - 1}]"}
        if len(ids) > prev:
            runs.append([k - 1, prev, len(ids)])
        prev = len(ids)
    return {"error": None, "runs": runs}
