"""Turn one (model, variant, case) into a golden record by asking the oracle.

The record is plain JSON (see ``fixtures/golden/README.md`` for every field). Everything here is
derived from renders of the template; nothing is hand-written.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from conformance.fixtures.cases import Case
from conformance.fixtures.golden_record import Golden
from conformance.fixtures.registry import Variant
from conformance.messages import normalize_tool_calls
from conformance.oracle import Encoded, Oracle, TemplateRenderError
from conformance.oracle.message_spans import attribution_runs, first_divergence, message_bodies
from conformance.oracle.turn_end import closing_position, continuation, final_closing_id, with_probe
from conformance.oracle.turn_spans import TurnSpans
from conformance.protocol import TRAIN_ON

__all__ = ["GOLDEN_SCHEMA_VERSION", "derive_golden", "derive", "Derivation"]

GOLDEN_SCHEMA_VERSION = 1


def _is_prefix(p: list[int], full: list[int]) -> bool:
    return len(p) <= len(full) and full[: len(p)] == p


_PROBE = "\ue002"  # private use: in no real text, and the oracle's sentinels are \ue000/\ue001


def _appears(value: str, text: str) -> bool:
    """Text is rendered raw or JSON-escaped (either ASCII mode)."""
    return any(v in text for v in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]))


def _python_spelling(value: Any) -> str:
    """A JSON value as Jinja's ``string`` filter writes it (Python's ``str``: ``False``, ``None``)."""
    return str(value)


def _probe_call_name(call: dict[str, Any]) -> None:
    call["function"]["name"] += _PROBE


def _probe_call_arguments(call: dict[str, Any]) -> None:
    fn = call["function"]
    args = json.loads(fn["arguments"]) if isinstance(fn["arguments"], str) else dict(fn["arguments"])
    args[_PROBE] = _PROBE
    fn["arguments"] = json.dumps(args, ensure_ascii=False) if isinstance(fn["arguments"], str) else args


def _span_after(prompt_ids: list[int], full_ids: list[int], stop_ids: list[int]) -> tuple[int, int] | str:
    if not _is_prefix(prompt_ids, full_ids):
        k = first_divergence(prompt_ids, full_ids)
        return f"the full render is not an extension of the generation prompt (first divergence at token {k})"
    for j in range(len(prompt_ids), len(full_ids)):
        if full_ids[j] in stop_ids:
            return (len(prompt_ids), j + 1)
    return "no end-of-turn token follows the generation prompt in the full render"


def derive_golden(oracle: Oracle, variant: Variant, case: Case, *, minimal: bool = False) -> dict[str, Any]:
    """The golden record of one case. ``minimal`` (live checks of generated cases) derives only
    ``prompt``, ``full``, ``dropped`` and ``completion``: no attribution, weights or second oracle,
    which cost one template render per message."""
    return Derivation(oracle, variant, case, minimal).record()


def derive(oracle: Oracle, variant: Variant, case: Case, *, minimal: bool = False) -> Golden:
    """The golden of one case as the suite reads a stored one (typed values): for cases derived
    live, which have no stored record."""
    return Golden.from_json(derive_golden(oracle, variant, case, minimal=minimal))


@dataclass(frozen=True)
class Derivation:
    """One golden in the making: the oracle, the variant and the case, held once, and every part
    of the record derived from renders of the template (each part its value or why it is not
    derivable)."""

    oracle: Oracle
    variant: Variant
    case: Case
    minimal: bool = False

    @functools.cached_property
    def messages(self) -> list[dict[str, Any]]:
        return self.case.messages_list()

    @functools.cached_property
    def tools(self) -> Any:
        return self.case.tools_list()

    def encode(self, messages: list[dict[str, Any]], *, prompt: bool, cross_check: bool = True) -> Encoded:
        return self.oracle.encode(messages, self.tools, self.variant, add_generation_prompt=prompt, cross_check=cross_check)

    def record(self) -> dict[str, Any]:
        rec = self._record()
        return rec if self.minimal else self._with_second_oracle(rec)

    def _encoded(self, enc: Encoded) -> dict[str, Any]:
        rec: dict[str, Any] = {"error": None, "text": enc.text, "tokens": self.oracle.pieces(enc.ids)}
        if enc.literal_ids != enc.ids:
            rec["literal_ids"] = enc.literal_ids
        if enc.safe_note:
            rec["safe_note"] = enc.safe_note
        return rec

    def _record(self) -> dict[str, Any]:
        oracle, case, msgs, minimal = self.oracle, self.case, self.messages, self.minimal
        last = case.last_assistant_index
        prompt_msgs = msgs[:last] if last is not None else msgs
        rec: dict[str, Any] = {
            "schema_version": GOLDEN_SCHEMA_VERSION,
            "case": case.id,
            "model": oracle.entry.model_id,
            "variant": self.variant.name,
            "stop_ids": oracle.stop_ids,
        }

        try:
            prompt = self.encode(prompt_msgs, prompt=True, cross_check=not minimal)
            rec["prompt"] = self._encoded(prompt)
        except TemplateRenderError as e:
            prompt = None
            rec["prompt"] = {"error": str(e)}

        full: Encoded | None = None
        if last is None:
            rec["full"] = {"error": "case does not end with an assistant message: nothing to complete"}
        else:
            try:
                full = self.encode(msgs, prompt=False, cross_check=not minimal)
                rec["full"] = self._encoded(full)
            except TemplateRenderError as e:
                rec["full"] = {"error": str(e)}

        injected = (prompt.injected if prompt else []) or (full.injected if full else [])
        if injected:
            rec["injection"] = {"found": injected}

        if full is None:
            rec["dropped"] = []
            rec["completion"] = {"error": rec["full"]["error"]}
            rec["weights"] = {c: {"error": rec["full"]["error"]} for c in TRAIN_ON}
            return rec

        if not minimal:
            rec["full"]["attribution"] = self._attribution(full.ids)
        assert last is not None
        tail = self._final_tail(full.ids)
        if tail:
            # The template writes no token of its own to close the final turn (conformance.oracle.turn_end):
            # the sampled completion, and a supervised example, end with the marker it writes for the
            # message that would follow.
            rec["supervised_tail"] = {"error": tail} if isinstance(tail, str) else {"error": None, "tokens": oracle.pieces(tail)}
        span: tuple[int, int] | str | None = None
        if prompt is not None:
            span = (self._span_closed_by_next(last, prompt.ids, full.ids, tail) if tail
                    else _span_after(prompt.ids, full.ids, oracle.stop_ids))
        dropped = self._dropped()
        rec["dropped"] = dropped

        if prompt is None:
            rec["completion"] = {"error": "the generation prompt cannot be rendered"}
        else:
            assert span is not None
            if isinstance(span, str):
                rec["completion"] = {"error": span}
            else:
                supervised = full.ids + (tail if isinstance(tail, list) else [])
                rec["completion"] = {
                    "error": None,
                    "start": span[0],
                    "tokens": oracle.pieces(supervised[span[0] : span[1]]),
                    "expected": self._expected_message(last, dropped),
                }
                if tail:
                    rec["completion"]["closed_by"] = continuation(case.messages[last])["role"]
                spelled = self._spelled_markup(case.messages[last])
                if spelled:
                    # The template emits such text as its own markup (and Qwen3 even re-parses
                    # <think>), so no parser can tell it from structure: the round trip is undefined.
                    rec["completion"]["expected"] = None
                    rec["completion"]["expected_error"] = (
                        f"the final assistant message spells template tokens {spelled}: its parse is ambiguous"
                    )
        if not minimal:
            rec["weights"], rec["sampled_examples"] = self._weights(full.ids, rec["full"]["attribution"], tail)
            rec["user_prompt"] = self._user_prompt()
        return rec

    def _user_prompt(self) -> dict[str, Any]:
        """The prompt that opens a user turn after the conversation (a user simulator samples the
        next user message from it): :meth:`Oracle.open_turn`."""
        try:
            return self._encoded(self.oracle.open_turn(self.messages, self.tools, self.variant, "user"))
        except TemplateRenderError as e:
            return {"error": f"the template opens no user turn after this conversation: {e}"}

    def _dropped(self) -> list[dict[str, Any]]:
        """Message fields the template does not render, in whole or in part (it dropped them).

        Each non-empty field is probed: the conversation is rendered again with a private-use marker
        appended to that field (to a tool call's name and, as an extra argument, to its arguments); the
        field is dropped when the marker does not come out. Searching the render for the field's own
        text alone cannot tell: a one-letter answer "k" is "found" in "lookup" or "<|eot_id|>"."""
        msgs = self.messages
        tools = self.tools
        agp = self.case.last_assistant_index is None

        def survives(edit: Any) -> bool:
            probe = json.loads(json.dumps(msgs))
            edit(probe)
            try:
                return _PROBE in self.oracle.render_text(probe, tools, self.variant, add_generation_prompt=agp)
            except TemplateRenderError:
                return True  # the probe made the template refuse: no evidence that the field is dropped

        base = self.oracle.render_text(msgs, tools, self.variant, add_generation_prompt=agp)
        out = []
        for i, m in enumerate(msgs):
            for f in ("content", "reasoning_content"):
                value = m.get(f)
                if isinstance(value, str) and value.strip():
                    # The marker catches a field dropped whole; the text search (raw or JSON-escaped)
                    # a field rendered only in part (Qwen3 keeps only what follows "</think>").
                    if not _appears(value.strip(), base) or not survives(lambda p, i=i, f=f: p[i].__setitem__(f, p[i][f] + _PROBE)):
                        out.append({"message": i, "field": f})
            for j, call in enumerate(m.get("tool_calls") or []):
                named = survives(lambda p, i=i, j=j: _probe_call_name(p[i]["tool_calls"][j])) or self._name_in_id(call)
                if not survives(lambda p, i=i, j=j: _probe_call_arguments(p[i]["tool_calls"][j])):
                    out.append({"message": i, "field": f"tool_calls[{j}]"})
                elif not named:
                    # Still a call (Kimi writes only its id): the template drops its name alone.
                    out.append({"message": i, "field": f"tool_calls[{j}].name"})
        return out

    def _name_in_id(self, call: dict[str, Any]) -> bool:
        """The template writes the call id instead of the name (registry ``tool_call_name = "id"``) and
        the id is upstream's ``functions.<name>:<n>`` for this call's name: the name is rendered."""
        if self.oracle.entry.tool_call_name != "id":
            return False
        cid, name = str(call.get("id") or ""), call["function"]["name"]
        head, sep, n = cid.rpartition(":")
        return bool(sep) and n.isdigit() and head in (name, f"functions.{name}")

    def _spelled_markup(self, message: dict[str, Any]) -> list[str]:
        texts = [message.get("content") or "", message.get("reasoning_content") or ""]
        return sorted({t for t in self.oracle.added_tokens for x in texts if t in x})

    def _span_closed_by_next(self, k: int, prompt_ids: list[int], full_ids: list[int], tail: list[int] | str) -> tuple[int, int] | str:
        """Assistant message ``k``'s sampled span where the next message's marker closes a turn
        (registry ``turn_end = "next_message"``, :mod:`conformance.oracle.turn_end`): through that marker in
        ``full``, or, for the final message, through the closing id ``tail`` appended to ``full``."""
        if not _is_prefix(prompt_ids, full_ids):
            d = first_divergence(prompt_ids, full_ids)
            return f"the full render is not an extension of the generation prompt (first divergence at token {d})"
        msgs = self.messages
        if k == len(msgs) - 1:
            return (len(prompt_ids), len(full_ids) + 1) if isinstance(tail, list) else tail
        try:
            probed = self.encode(with_probe(msgs, k + 1), prompt=False, cross_check=False).ids
        except TemplateRenderError as e:
            return f"message {k + 1} cannot be rendered with a probe in its content: {e}"
        j = closing_position(prompt_ids, full_ids, probed, self.oracle.stop_ids)
        return (len(prompt_ids), j + 1) if isinstance(j, int) else f"assistant message {k} (closed by message {k + 1}'s marker): {j}"

    def _final_tail(self, full_ids: list[int]) -> list[int] | str:
        """``[closing id]`` of the final assistant message where the next message's marker closes a
        turn (empty where the template closes turns itself), or why it cannot be derived."""
        if self.oracle.entry.turn_end != "next_message":
            return []
        closing = final_closing_id(
            self.messages, full_ids, lambda p: self.encode(p, prompt=False, cross_check=False).ids,
            self.oracle.stop_ids,
        )
        return [closing] if isinstance(closing, int) else closing

    def _expected_message(self, index: int, dropped: list[dict[str, Any]]) -> dict[str, Any]:
        m = self.case.messages[index]
        gone = {d["field"] for d in dropped if d["message"] == index}
        calls = []
        for j, c in enumerate(normalize_tool_calls(m.get("tool_calls"))):
            if f"tool_calls[{j}]" in gone:
                continue
            # A call whose name the template drops is still a call: any name is accepted (null).
            call = {**c, "name": None} if f"tool_calls[{j}].name" in gone else dict(c)
            spellings = self._string_spellings(index, j, c["arguments"])
            if spellings:
                call["string_spellings"] = spellings
            calls.append(call)
        exp: dict[str, Any] = {
            "content": "" if "content" in gone else (m.get("content") or ""),
            "reasoning_content": "" if "reasoning_content" in gone else (m.get("reasoning_content") or ""),
            "tool_calls": calls,
        }
        if self.oracle.entry.tool_call_content_channel == "reasoning" and m.get("tool_calls") and exp["content"]:
            # This template renders the text of a tool-calling message as reasoning (gpt-oss: the
            # analysis channel), so that is where a parser finds it.
            if not exp["reasoning_content"]:
                exp["reasoning_content"] = exp["content"]
            exp["content"] = ""
        return exp

    def _string_spellings(self, index: int, j: int, arguments: Any) -> dict[str, str]:
        """Top-level arguments of call ``j`` of message ``index`` whose value the template writes
        exactly as it writes a string: argument -> that string. Templates that write a parameter's
        value as bare text (Qwen3.5's and Nemotron's ``<parameter=x>`` with Jinja's ``string``
        filter: ``False``, ``None``, ``3``) render ``False`` and ``"False"`` alike, so a parser
        without the tool's schema may return either: both are accepted. Found by rendering the
        conversation again with the value replaced by each spelling (Python's, as Jinja's
        ``string`` writes it, and JSON's): a spelling is listed where the render does not change."""
        if not isinstance(arguments, dict):
            return {}
        agp = self.case.last_assistant_index is None
        base: str | None = None
        out: dict[str, str] = {}
        for key, value in arguments.items():
            if isinstance(value, str):
                continue
            spellings = dict.fromkeys([_python_spelling(value), json.dumps(value, ensure_ascii=False)])
            for text in spellings:
                probe = json.loads(json.dumps(self.messages))
                fn = probe[index]["tool_calls"][j]["function"]
                args = json.loads(fn["arguments"]) if isinstance(fn["arguments"], str) else dict(fn["arguments"])
                args[key] = text
                fn["arguments"] = json.dumps(args, ensure_ascii=False) if isinstance(fn["arguments"], str) else args
                try:
                    if base is None:
                        base = self.oracle.render_text(self.messages, self.tools, self.variant, add_generation_prompt=agp)
                    same = self.oracle.render_text(probe, self.tools, self.variant, add_generation_prompt=agp) == base
                except TemplateRenderError:
                    same = False
                if same:
                    out[key] = text
                    break
        return out

    def _with_second_oracle(self, rec: dict[str, Any]) -> dict[str, Any]:
        if self.oracle.entry.second_oracle == "openai-harmony":
            from conformance.oracle.harmony import HarmonyOracle

            harmony = HarmonyOracle(self.oracle.entry.pinned_date, self.oracle.entry.root / "vocab")
            rec["second_oracle"] = harmony.record(
                rec, self.messages, self.tools, self.variant.template_kwargs, self.case.last_assistant_index
            )
        return rec

    def _weights(self, full_ids: list[int], attribution: dict[str, Any],
                 tail: list[int] | str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Spans of the supervised example a trainer trains on (weight 1; all other tokens weigh 0),
        and the per-turn examples the model sampled.

        The supervised example is ``full``, followed by ``supervised_tail`` where the template closes
        a turn only with the next message's marker (:mod:`conformance.oracle.turn_end`). Each assistant
        message's span is given by :class:`conformance.oracle.turn_spans.TurnSpans`: the tokens the model
        sampled for it where its turn is in history as sampled, else its own tokens (what changes with
        its content) through its end-of-turn token. Template text after the final end-of-turn token
        (Qwen's trailing newline) is in the example with weight 0.

        * ``last_assistant_message``: the final message's span;
        * ``last_assistant_turn``: every assistant message after the last user message (a tool loop:
          its calls and final answer; the tool results between them weigh 0);
        * ``all_assistant_messages``: every assistant message;
        * ``all_messages``: every assistant message's span as above, and the body of every other
          message (its content through its end-of-turn token, not its role header; found by a probe
          render, see :mod:`conformance.oracle.message_spans`), in token order;
        * ``all_tokens``: the whole example.
        """
        if isinstance(tail, str):
            why = f"the final turn's closing id cannot be derived: {tail}"
            return {c: {"error": why} for c in TRAIN_ON}, []
        turns = TurnSpans(self.oracle, self.variant, self.case, full_ids, tail)
        msgs = self.messages
        last_user = max((k for k, m in enumerate(msgs) if m["role"] == "user"), default=-1)
        spans: dict[int, list[int] | str] = {}
        examples = []
        for k, m in enumerate(msgs):
            if m["role"] != "assistant":
                continue
            span = turns.span(k)
            spans[k] = list(span) if isinstance(span, tuple) else span
            examples.append(turns.sampled_example(k))
        out: dict[str, Any] = {}
        last = max(spans) if spans else None
        for choice, ks in (("last_assistant_message", [] if last is None else [last]), ("all_assistant_messages", list(spans)),
                           ("last_assistant_turn", [k for k in spans if k > last_user])):
            errors = [spans[k] for k in ks if isinstance(spans[k], str)]
            out[choice] = {"error": errors[0]} if errors else {"error": None, "spans": [spans[k] for k in ks]}
        out["all_messages"] = self._all_messages(full_ids, spans, attribution)
        out["all_tokens"] = {"error": None, "spans": [[0, len(full_ids) + len(tail)]]}
        return {c: out[c] for c in TRAIN_ON}, examples

    def _all_messages(self, full_ids: list[int], assistant_spans: dict[int, Any], attribution: dict[str, Any]) -> dict[str, Any]:
        errors = [s for s in assistant_spans.values() if isinstance(s, str)]
        if errors:
            return {"error": errors[0]}
        msgs = self.messages
        runs = attribution["error"] or {m: (s, e) for m, s, e in attribution["runs"]}
        bodies = message_bodies(msgs, full_ids, runs, lambda p: self.encode(p, prompt=False).ids,
                                self.oracle.stop_ids)
        if isinstance(bodies, str):
            return {"error": bodies}
        found = [list(s) for s in assistant_spans.values()] + [list(b) for b in bodies]
        return {"error": None, "spans": sorted(found)}

    def _attribution(self, full_ids: list[int]) -> dict[str, Any]:
        """Runs ``[message_index, start, end)`` over ``full``: the tokens that appeared when message
        ``i`` was added. Derivable only when each prefix render is a token prefix of the next."""
        msgs = self.messages
        runs = attribution_runs(len(msgs), full_ids, lambda k: self.encode(msgs[:k], prompt=False).ids)
        return {"error": runs} if isinstance(runs, str) else {"error": None, "runs": runs}
