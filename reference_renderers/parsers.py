"""Completion parsers: sampled ids -> content, reasoning, tool calls, termination. Each family's
class names its parser (``parser = staticmethod(parse_...)``, :mod:`reference_renderers.families`).

Every parser decodes with special tokens kept, never raises on garbage ids (it reports
``MALFORMED`` instead), and parses tool-call arguments with ``json.loads`` so JSON types survive.
Each declares how it streams (:func:`reference_renderers.streaming.streams`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from conformance.protocol import ParsedResponse, Termination
from reference_renderers.streaming import streams

__all__ = ["completion_text", "family_parser", "parse_ids", "parse_with", "sends_raw"]

RawCalls = Callable[[str], list[dict[str, Any]]]


def sends_raw(extract: RawCalls) -> Callable[[Any], Any]:
    """Declare what of a parser's tool calls must go back to the template as the completion wrote
    it (:mod:`reference_renderers.openai_message`): ``extract(text)`` gives, per call in order,
    ``{"arguments": <JSON text as written>}`` where the template writes arguments verbatim
    (registry ``tool_arguments = "as_written"``) and ``{"id": ...}`` where it writes call ids."""

    def mark(parser: Any) -> Any:
        parser.raw_calls = extract
        return parser

    return mark


_QWEN_ARGS = re.compile(r'\s*\{"name":\s*"(?:[^"\\]|\\.)*",\s*"arguments":\s*(.*)\}\s*$', re.DOTALL)


def _qwen_raw(text: str) -> list[dict[str, Any]]:
    out = []
    for m in _QWEN_CALL.finditer(text.rpartition("</think>")[2]):
        a = _QWEN_ARGS.match(m.group(1))
        out.append({"arguments": a.group(1)} if a else {})
    return out


def _kimi_raw(text: str) -> list[dict[str, Any]]:
    return [{"id": m.group(1).strip(), "arguments": m.group(2)} for m in _KIMI_CALL.finditer(text)]


def _mistral_raw(text: str) -> list[dict[str, Any]]:
    try:
        calls = json.loads(text[len("[TOOL_CALLS]"):]) if text.startswith("[TOOL_CALLS]") else []
    except json.JSONDecodeError:
        return []
    return [{"id": c["id"]} if isinstance(c, dict) and "id" in c else {} for c in calls] if isinstance(calls, list) else []



def _split_termination(ids: Sequence[int], stop_ids: Sequence[int], eos_id: int | None) -> tuple[list[int], Termination]:
    ids = list(ids)
    if ids and ids[-1] in stop_ids:
        return ids[:-1], Termination.STOP_SEQUENCE
    if ids and eos_id is not None and ids[-1] == eos_id:
        return ids[:-1], Termination.EOS
    return ids, Termination.MALFORMED


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


_QWEN_CALL = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)


@sends_raw(_qwen_raw)
@streams("</think>", "<tool_call>")
def parse_qwen3(text: str, term: Termination) -> ParsedResponse:
    reasoning = ""
    if "</think>" in text:
        head, _, text = text.partition("</think>")
        reasoning = head.split("<think>", 1)[-1].strip("\n")
        text = text.lstrip("\n")
    elif text.lstrip("\n").startswith("<think>"):  # cut inside its reasoning: that is reasoning
        return ParsedResponse(reasoning_content=text.lstrip("\n").removeprefix("<think>").strip("\n"), termination=term)
    calls = []
    first = text.find("<tool_call>")
    if first >= 0:
        for m in _QWEN_CALL.finditer(text):
            obj = _json_object(m.group(1))
            if obj is None or not isinstance(obj.get("name"), str) or not isinstance(obj.get("arguments", {}), dict):
                term = Termination.MALFORMED
                continue
            calls.append({"name": obj["name"], "arguments": obj.get("arguments", {})})
        if text.count("<tool_call>") != len(calls):
            term = Termination.MALFORMED
        text = text[:first].rstrip("\n")
    return ParsedResponse(content=text, reasoning_content=reasoning, tool_calls=calls, termination=term)


_PYTHON_TAG_CALL = re.compile(r'<\|python_tag\|>\s*([\w.-]+)\.call\((.*)\)\s*$', re.DOTALL)
_CALL_ARG = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@streams(undecided=lambda text: not text.strip() or text.lstrip().startswith(("{", "<|python_tag|>")))
def parse_llama3(text: str, term: Termination) -> ParsedResponse:
    m = _PYTHON_TAG_CALL.match(text.strip())
    if m:  # a built-in tool call: name.call(k="v", ...)
        args = dict(_CALL_ARG.findall(m.group(2)))
        return ParsedResponse(tool_calls=[{"name": m.group(1), "arguments": args}], termination=term)
    obj = _json_object(text.strip()) if text.lstrip().startswith("{") else None
    if obj is not None and isinstance(obj.get("name"), str) and isinstance(obj.get("parameters"), dict):
        return ParsedResponse(tool_calls=[{"name": obj["name"], "arguments": obj["parameters"]}], termination=term)
    return ParsedResponse(content=text, termination=term)


@sends_raw(_mistral_raw)
@streams(undecided=lambda text: "[TOOL_CALLS]".startswith(text) or text.startswith("[TOOL_CALLS]"))
def parse_mistral(text: str, term: Termination) -> ParsedResponse:
    if text.startswith("[TOOL_CALLS]"):
        try:
            arr = json.loads(text[len("[TOOL_CALLS]"):])
            calls = [{"name": c["name"], "arguments": c["arguments"]} for c in arr]
            return ParsedResponse(tool_calls=calls, termination=term)
        except (json.JSONDecodeError, KeyError, TypeError):
            return ParsedResponse(content=text, termination=Termination.MALFORMED)
    return ParsedResponse(content=text, termination=term)


_HARMONY_MSG = re.compile(r"(?:<\|start\|>assistant)?(?P<header>.*?)<\|message\|>(?P<body>.*?)(?:<\|end\|>|\Z)", re.DOTALL)


@streams("<|end|>", "<|start|>assistant")
def parse_gpt_oss(text: str, term: Termination) -> ParsedResponse:
    out = ParsedResponse(termination=term)
    for m in _HARMONY_MSG.finditer(text):
        header, body = m.group("header"), m.group("body")
        to = re.search(r"to=functions\.([^\s<]+)", header)
        if to:
            obj = _json_object(body)
            if obj is None:
                out.termination = Termination.MALFORMED
            else:
                out.tool_calls.append({"name": to.group(1), "arguments": obj})
        elif "<|channel|>analysis" in header:
            out.reasoning_content += body
        else:
            out.content += body
    return out


_XML_CALL = re.compile(r"<tool_call>\n<function=([^>\n]*)>\n(.*?)</function>\n</tool_call>", re.DOTALL)
_XML_PARAM = re.compile(r"<parameter=([^>\n]*)>\n(.*?)\n</parameter>\n", re.DOTALL)
# Qwen3.5's template writes a non-container argument with Jinja's ``string`` filter: Python spellings.
_PY_LITERALS = {"True": True, "False": False, "None": None}


def _xml_value(text: str) -> Any:
    """A parameter value as these templates write it: JSON for containers (and, in Qwen3.6 and
    Nemotron, for everything but strings), raw text for strings. Raw text that reads as a JSON
    scalar is taken as that scalar: without the tool's schema the format cannot tell ``"3"`` from
    ``3``, which is the format's ambiguity, not the parser's."""
    if text in _PY_LITERALS:
        return _PY_LITERALS[text]
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text


@streams("</think>", "<tool_call>")
def parse_xml_tool_calls(text: str, term: Termination) -> ParsedResponse:
    """Qwen3.5/3.6 and Nemotron-3: ``<think>`` reasoning, then content, then XML-parameter calls.
    The newlines a think block is followed by are the template's (``</think>\n\n``), except after an
    empty block written ``<think></think>`` (Nemotron without reasoning), where content starts at
    once: a newline there is the content's own, and so is one at the start of a completion
    without a think block."""
    reasoning = ""
    separated = False
    if "</think>" in text:
        head, _, text = text.partition("</think>")
        reasoning = head.split("<think>", 1)[-1].strip("\n")
        separated = not head.endswith("<think>")
    calls = []
    first = text.find("<tool_call>")
    if first >= 0:
        for m in _XML_CALL.finditer(text):
            body = m.group(2)
            params = _XML_PARAM.findall(body)
            if _XML_PARAM.sub("", body).strip():
                term = Termination.MALFORMED
            calls.append({"name": m.group(1), "arguments": {k: _xml_value(v) for k, v in params}})
        if text.count("<tool_call>") != len(calls):
            term = Termination.MALFORMED
        text = text[:first]
    content = text.strip("\n") if separated else text.rstrip("\n")
    return ParsedResponse(content=content, reasoning_content=reasoning, tool_calls=calls, termination=term)


def _split_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, rest) for text that may open with ``reasoning</think>`` (its ``<think>``
    optional: the prompt may have opened it), kept verbatim."""
    if "</think>" not in text:
        return "", text
    reasoning, _, rest = text.partition("</think>")
    return reasoning.removeprefix("<think>"), rest


_DSV31_CALL = re.compile(r"<｜tool▁call▁begin｜>(.*?)<｜tool▁sep｜>(.*?)<｜tool▁call▁end｜>", re.DOTALL)


@streams("</think>", "<｜tool▁calls▁begin｜>")
def parse_deepseek_v31(text: str, term: Termination) -> ParsedResponse:
    """DeepSeek-V3.1: optional ``reasoning</think>``, content, then a tool-calls section."""
    reasoning, text = _split_reasoning(text)
    calls = []
    first = text.find("<｜tool▁calls▁begin｜>")
    if first >= 0:
        section = text[first:]
        for m in _DSV31_CALL.finditer(section):
            obj = _json_object(m.group(2))
            if obj is None:
                term = Termination.MALFORMED
                continue
            calls.append({"name": m.group(1), "arguments": obj})
        if section.count("<｜tool▁call▁begin｜>") != len(calls) or not section.endswith("<｜tool▁calls▁end｜>"):
            term = Termination.MALFORMED
        text = text[:first]
    return ParsedResponse(content=text, reasoning_content=reasoning, tool_calls=calls, termination=term)


_KIMI_CALL = re.compile(r"<\|tool_call_begin\|>(.*?)<\|tool_call_argument_begin\|>(.*?)<\|tool_call_end\|>", re.DOTALL)
_KIMI_ID = re.compile(r"^(?:functions\.)?(.+):\d+$")


@sends_raw(_kimi_raw)
@streams("</think>", "<|tool_calls_section_begin|>")
def parse_kimi(text: str, term: Termination) -> ParsedResponse:
    """Kimi K2: optional ``<think>reasoning</think>``, content, then a tool-calls section whose
    calls carry only an id; the function name is read from upstream's ``functions.<name>:<n>`` ids.
    A call whose id names no function is still a call: its name is the id as written (the template
    dropped the real name; the goldens accept any name for such a call)."""
    reasoning, text = _split_reasoning(text)
    calls = []
    first = text.find("<|tool_calls_section_begin|>")
    if first >= 0:
        section = text[first:]
        for m in _KIMI_CALL.finditer(section):
            obj = _json_object(m.group(2))
            if obj is None:
                term = Termination.MALFORMED
                continue
            named = _KIMI_ID.match(m.group(1).strip())
            calls.append({"name": named.group(1) if named else m.group(1).strip(), "arguments": obj})
        if section.count("<|tool_call_begin|>") != section.count("<|tool_call_end|>") or not section.endswith("<|tool_calls_section_end|>"):
            term = Termination.MALFORMED
        text = text[:first]
    return ParsedResponse(content=text, reasoning_content=reasoning, tool_calls=calls, termination=term)


_GLM_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_GLM_ARG = re.compile(r"<arg_key>(.*?)</arg_key><arg_value>(.*?)</arg_value>", re.DOTALL)


def _glm_value(text: str) -> Any:
    """An argument value as GLM writes it: strings raw, everything else as JSON. Raw text that
    reads as JSON is taken as that value (without the tool's schema the format cannot tell the
    string ``"3"`` from ``3``: the format's ambiguity, not the parser's)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text


@streams("</think>", "<tool_call>")
def parse_glm(text: str, term: Termination) -> ParsedResponse:
    """GLM-5: optional ``reasoning</think>`` (the prompt opened ``<think>``), content, then
    ``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value>...</tool_call>`` calls."""
    reasoning, text = _split_reasoning(text)
    calls = []
    first = text.find("<tool_call>")
    if first >= 0:
        section = text[first:]
        for m in _GLM_CALL.finditer(section):
            body = m.group(1)
            name, _, args = body.partition("<arg_key>")
            args = "<arg_key>" + args if _ else ""
            if not name.strip() or _GLM_ARG.sub("", args).strip():
                term = Termination.MALFORMED
                continue
            calls.append({"name": name.strip(), "arguments": {k: _glm_value(v) for k, v in _GLM_ARG.findall(args)}})
        if section.count("<tool_call>") != len(calls) or _GLM_CALL.sub("", section).strip():
            term = Termination.MALFORMED
        text = text[:first]
    return ParsedResponse(content=text.strip(), reasoning_content=reasoning, tool_calls=calls, termination=term)


@streams()
def parse_plain(text: str, term: Termination) -> ParsedResponse:
    return ParsedResponse(content=text, termination=term)


def completion_text(tokenizer: Any, ids: Sequence[int], stop_ids: Sequence[int]) -> tuple[str, Termination]:
    """What a parser reads of a completion: its text before a final stop id (or EOS), special
    tokens kept, and how it ended. Raises on ids the tokenizer cannot decode."""
    body, term = _split_termination(ids, stop_ids, tokenizer.eos_token_id if tokenizer.eos_token_id not in stop_ids else None)
    return tokenizer.decode(body, skip_special_tokens=False), term


def parse_ids(parser: Callable[[str, Termination], ParsedResponse], tokenizer: Any, ids: Sequence[int],
              stop_ids: Sequence[int]) -> ParsedResponse:
    """Parse ``ids`` with ``parser``; garbage ids give ``MALFORMED``, never an exception."""
    try:
        return parser(*completion_text(tokenizer, ids, stop_ids))
    except Exception:  # noqa: BLE001 - out-of-range ids and the like: a malformed sample, not a crash
        return ParsedResponse(termination=Termination.MALFORMED)


def family_parser(family: str) -> Callable[[str, Termination], ParsedResponse]:
    """``family``'s text parser (its hand-written class's ``parser``; a family without one:
    :func:`parse_plain`)."""
    from reference_renderers.families import parser_for

    return parser_for(family) or parse_plain


def parse_with(family: str, tokenizer: Any, ids: Sequence[int], stop_ids: Sequence[int]) -> ParsedResponse:
    """Parse ``ids`` as ``family``'s hand-written renderer does (:func:`family_parser`)."""
    return parse_ids(family_parser(family), tokenizer, ids, stop_ids)
