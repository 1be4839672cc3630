"""Deliberately broken renderers ("mutants"), one per bug class the suite must catch.

Each wraps a hand-written renderer (Qwen3's; GLM-5's for the bugs of templates whose turns are
closed by the next message's marker) and breaks exactly one thing. The pytester runs in
``test_mutants.py`` certify each one and assert that its area fails.
"""

from __future__ import annotations

import dataclasses
import json
import threading

from conformance.protocol import ResponseDelta, Termination
from reference_renderers import Glm5Renderer, Qwen3Renderer, Qwen35Renderer
from reference_renderers.parsers import parse_qwen3, parse_with
from reference_renderers.streaming import streams


class DroppedSeamNewline(Qwen3Renderer):
    """Loses the newline after <|im_end|> between messages (a seam)."""

    def render(self, messages, *, tools=None, add_generation_prompt=False):
        out = super().render(messages, tools=tools, add_generation_prompt=add_generation_prompt)
        ids = out.ids
        for i in range(len(ids) - 1):
            if ids[i] == self._im_end and ids[i + 1] == 198:
                del ids[i + 1]
                break
        return out


class WrongStopId(Qwen3Renderer):
    """Tells the sampler to stop on <|endoftext|> instead of <|im_end|> (its parser is right)."""

    def stop_token_ids(self):
        return [151643]

    def parse_response(self, ids):
        return parse_with(self.family, self.tokenizer, ids, self._stop_ids)


class IgnoresTrainFlags(Qwen3Renderer):
    """Claims per-message train flags and trains every assistant message whatever they say."""

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        if train_on == "customized":
            train_on = "all_assistant_messages"
        return super().build_supervised_example(messages, tools=tools, train_on=train_on)


class IgnoresPrefill(Qwen3Renderer):
    """Takes ``prefill`` and drops it: the sampler starts the answer afresh."""

    def build_generation_prompt(self, messages, *, tools=None, prefill=None, role="assistant"):
        return super().build_generation_prompt(messages, tools=tools, role=role)


class OpensEveryTurnAsAssistant(Qwen3Renderer):
    """Claims user-turn prompts and opens an assistant turn whatever the role: a user simulator
    would write the assistant's answer."""

    def build_generation_prompt(self, messages, *, tools=None, prefill=None, role="assistant"):
        return super().build_generation_prompt(messages, tools=tools, prefill=prefill)


class ToolPrefixWithoutSystemPrompt(Qwen3Renderer):
    """Declares the tools in its conversation prefix and forgets the system prompt given with them."""

    def create_conversation_prefix_with_tools(self, tools, system_prompt=""):
        return super().create_conversation_prefix_with_tools(tools, "")


class SharedScratch(Qwen3Renderer):
    """Builds every generation prompt in one buffer kept on the renderer: right alone, and mixes
    two conversations' ids when two threads build prompts at once."""

    def build_generation_prompt(self, messages, *, tools=None, prefill=None, role="assistant"):
        ids = super().build_generation_prompt(messages, tools=tools, prefill=prefill, role=role)
        self._scratch = []
        for i in ids:
            self._scratch.append(i)
        return list(self._scratch)


class PythonBooleans(Qwen3Renderer):
    """Parses tool-call arguments and re-serializes them with Python's repr: true -> True, null -> None."""

    def _arguments_text(self, raw, *, where):
        value = json.loads(raw) if isinstance(raw, str) else raw
        return "{" + ", ".join(f"{json.dumps(k)}: {v!r}" for k, v in value.items()) + "}"


class ThinkingDroppedFromLastTurn(Qwen3Renderer):
    """Drops reasoning from the final assistant turn too."""

    def _assistant(self, out, m, content, i, last_query, *, is_last):
        m = {k: v for k, v in m.items() if k != "reasoning_content"}
        super()._assistant(out, m, content, i, last_query, is_last=is_last)


class RerenderingBridge(Qwen3Renderer):
    """Bridges by re-rendering history from messages it reconstructs (loses the sampled tokens)."""

    def bridge_to_next_turn(self, prev_prompt, prev_completion, new_messages, *, tools=None):
        if any(m.get("role") == "assistant" for m in new_messages):
            return None
        text = self.tokenizer.decode(list(prev_prompt) + list(prev_completion))
        # re-encode the decoded history the way a re-rendering pipeline would: specials parsed back,
        # and Qwen3's empty think block of the previous turn dropped.
        text = text.replace("<think>\n\n</think>\n\n", "")
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        if ids[-1] != self._im_end:
            ids.append(self._im_end)
        tail = super().bridge_to_next_turn([], [self._im_end], new_messages, tools=tools)
        return ids + tail[1:]


class StreamsMarkupAsText(Qwen3Renderer):
    """Streams each id's text as content as it arrives (a naive display loop), then the one-shot
    parse's tool calls and termination: <think> and <tool_call> show as content."""

    def parse_response_streaming(self, chunks):
        ids = []
        for chunk in chunks:
            for i in chunk:
                ids.append(i)
                if i not in self._stop_ids:
                    yield ResponseDelta(content=self.tokenizer.decode([i]))
        final = self.parse_response(ids)
        for call in final.tool_calls:
            yield ResponseDelta(tool_call=call)
        yield ResponseDelta(termination=final.termination)


class DecodesChunksAlone(Qwen3Renderer):
    """Streams right one id at a time and all at once, but a "fast path" for several ids per
    chunk decodes each chunk on its own: a character cut between two chunks becomes U+FFFD."""

    def parse_response_streaming(self, chunks):
        chunks = [list(c) for c in chunks]
        if len(chunks) <= 1 or all(len(c) == 1 for c in chunks):
            yield from super().parse_response_streaming(chunks)
            return
        ids = [i for c in chunks for i in c]
        term = self.parse_response(ids).termination
        if term != Termination.MALFORMED:
            chunks[-1] = chunks[-1][:-1]  # the stop id
        text = "".join(self.tokenizer.decode(c) for c in chunks)
        parsed = type(self).parser(text, term)
        yield ResponseDelta(content=parsed.content, reasoning_content=parsed.reasoning_content)
        for call in parsed.tool_calls:
            yield ResponseDelta(tool_call=call)
        yield ResponseDelta(termination=parsed.termination)


class PythonReprArguments(Qwen3Renderer):
    """Sends tool-call arguments back as ``str(arguments)`` (Python's repr: ``{'on': True}``), the
    drift an OpenAI client then re-renders; its parse is right."""

    def to_openai_message(self, ids):
        msg = super().to_openai_message(ids)
        parsed = self.parse_response(ids)
        for call, typed in zip(msg.get("tool_calls", []), parsed.tool_calls):
            call["function"]["arguments"] = str(typed["arguments"])
        return msg


class CleanWhenTruncated(Qwen3Renderer):
    """Reports every completion as a clean stop, truncated or not."""

    def parse_response(self, ids):
        p = super().parse_response(ids)
        p.termination = Termination.STOP_SEQUENCE
        return p


class Unpicklable(Qwen3Renderer):
    """Holds a lambda, like a renderer caching a closure."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.hook = lambda x: x

    def __reduce__(self):
        return object.__reduce__(self)


class SpecialTokensInUserText(Qwen3Renderer):
    """Encodes content with the full tokenizer, so user text '<|im_end|>' becomes the special id."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        # The tokenizer's own Rust backend, added vocabulary included, in place of the text-only one.
        self._enc.text_encoder = self.tokenizer.backend_tokenizer

    def __reduce__(self):
        return (SpecialTokensInUserText, ())


class TrainsOnPrompt(Qwen3Renderer):
    """Weights every token, prompt included."""

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        ex = super().build_supervised_example(messages, tools=tools, train_on=train_on)
        ex.weights = [1.0] * len(ex.ids)
        return ex


class TrainsOnRoleHeaders(Qwen3Renderer):
    """For ``all_messages``, also trains on the role headers of user and system messages
    (``<|im_start|>user\n``): the model would learn to produce the other side's turns."""

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        ex = super().build_supervised_example(messages, tools=tools, train_on=train_on)
        if train_on == "all_messages":
            start = self._enc.id("<|im_start|>")
            for i, t in enumerate(ex.ids):
                if t == start and self.tokenizer.decode(ex.ids[i + 1 : i + 2]) in ("user", "system"):
                    ex.weights[i : i + 3] = [1.0] * len(ex.weights[i : i + 3])
        return ex


class FalseExtensionClaim(Qwen3Renderer):
    """Claims the extension property, which Qwen3's template does not have."""

    has_extension_property = True


class AsciiEscapedArguments(Qwen3Renderer):
    """Parses tool-call arguments and re-serializes them with ``ensure_ascii=True`` (the template
    writes them as given, unicode as is)."""

    def _arguments_text(self, raw, *, where):
        return json.dumps(json.loads(raw) if isinstance(raw, str) else raw, ensure_ascii=True)


def _floats(value):
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return float(value) if type(value) is int else value


class IntegersParsedAsFloats(Qwen3Renderer):
    """Parses tool-call arguments through a float-only number type (as some JSON decoders do): 3 -> 3.0."""

    # Its text parser itself (streamed parses use it too: one bug, the same in both).
    @staticmethod
    @streams("</think>", "<tool_call>")
    def parser(text, term):
        p = parse_qwen3(text, term)
        p.tool_calls = [{"name": c["name"], "arguments": _floats(c["arguments"])} for c in p.tool_calls]
        return p


class ShiftedMessageIndices(Qwen3Renderer):
    """Reports every token as belonging to the message after the one it belongs to (an off-by-one
    in the attribution it returns; its own supervised examples are built from the right one)."""

    _local = threading.local()  # per thread, as in SystemPromptMissingFromGenerationPrompt

    def render(self, messages, *, tools=None, add_generation_prompt=False):
        out = super().render(messages, tools=tools, add_generation_prompt=add_generation_prompt)
        if not getattr(self._local, "exact", False):
            out.message_indices = [i + 1 if i >= 0 else i for i in out.message_indices]
        return out

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        self._local.exact = True
        try:
            return super().build_supervised_example(messages, tools=tools, train_on=train_on)
        finally:
            self._local.exact = False


# ---- GLM-5: no token of its own closes an assistant turn (conformance.oracle.turn_end) ------------------


class UnclosedFinalTurn(Glm5Renderer):
    """Trains on the template's render as it is: the final answer has no end-of-turn token, so
    every example teaches the model never to end its last turn."""

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        ex = super().build_supervised_example(messages, tools=tools, train_on=train_on)
        if messages[-1]["role"] == "assistant" and len(ex.ids) > len(self.render(messages, tools=tools).ids):
            ex.ids, ex.weights = ex.ids[:-1], ex.weights[:-1]
        return ex


class EndOfTextClosesFinalTurn(Glm5Renderer):
    """Closes the final turn of a supervised example with <|endoftext|> (a stop id the template
    never writes) instead of the marker of the message that would follow."""

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        ex = super().build_supervised_example(messages, tools=tools, train_on=train_on)
        if messages[-1]["role"] == "assistant" and len(ex.ids) > len(self.render(messages, tools=tools).ids):
            ex.ids[-1] = self._enc.id("<|endoftext|>")
        return ex


class MarkersAreNotStops(Glm5Renderer):
    """Stops only on <|endoftext|>: the <|user|> and <|observation|> that close GLM turns are missing."""

    def stop_token_ids(self):
        return [self._enc.id("<|endoftext|>")]


class DoubledMarkerBridge(Glm5Renderer):
    """Writes the first new message's marker even when the completion already ends with it:
    ``...answer<|user|><|user|>question``."""

    def bridge_to_next_turn(self, prev_prompt, prev_completion, new_messages, *, tools=None):
        out = super().bridge_to_next_turn(prev_prompt, prev_completion, new_messages, tools=tools)
        if out is None or not prev_completion:
            return out
        k = len(prev_prompt) + len(prev_completion)
        return out[:k] + [prev_completion[-1]] + out[k:]


# ---- refusals: ValueError on what the template renders lossily is allowed; a crash never is -------


def _reasoning_before_last_query(messages):
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    return any(m.get("role") == "assistant" and m.get("reasoning_content") for m in messages[:last_user])


class _Refuses(Qwen3Renderer):
    """Raises ``self.error`` from every rendering call when ``self.refuses(messages)``."""

    error: type[Exception] = ValueError

    def refuses(self, messages):
        return _reasoning_before_last_query(messages)

    def _check(self, messages):
        if self.refuses(messages):
            raise self.error("message 1: reasoning of a turn before the last user query (the template drops it)")

    def render(self, messages, *, tools=None, add_generation_prompt=False):
        self._check(messages)
        return super().render(messages, tools=tools, add_generation_prompt=add_generation_prompt)

    def build_generation_prompt(self, messages, *, tools=None, prefill=None, role="assistant"):
        self._check(messages)
        return super().build_generation_prompt(messages, tools=tools, prefill=prefill, role=role)

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        self._check(messages)
        return super().build_supervised_example(messages, tools=tools, train_on=train_on)


class RefusesLossyCases(_Refuses):
    """Refuses, with ValueError, exactly the conversations whose earlier reasoning Qwen3's template
    drops: allowed, and listed as refusals (not a mutant the suite must catch: it is CERTIFIED)."""


class CrashesOnLongReasoningHistories(_Refuses):
    """A plain bug (KeyError) on any conversation longer than 6 messages whose earlier assistant
    turns carry reasoning: a crash, never a refusal, even where the template drops that reasoning."""

    error = KeyError
    bridge = False

    def refuses(self, messages):
        return len(messages) > 6 and any(m.get("role") == "assistant" and m.get("reasoning_content") for m in messages[:-1])


# ---- one mutant per check that had none ---------------------------------------------------------


class SystemPromptMissingFromGenerationPrompt(Qwen3Renderer):
    """Builds the generation prompt of a single-turn conversation without its system message (a
    prompt builder that keeps only the user's turn); full renders and supervised examples are right."""

    # Per thread: the threads check runs prompts and examples side by side, and a flag on the
    # renderer itself would make this mutant racy as well (caught there, rightly).
    _local = threading.local()

    def build_generation_prompt(self, messages, *, tools=None, prefill=None, role="assistant"):
        if not getattr(self._local, "exact", False) and [m["role"] for m in messages] == ["system", "user"]:
            messages = messages[1:]
        return super().build_generation_prompt(messages, tools=tools, prefill=prefill, role=role)

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        self._local.exact = True
        try:
            return super().build_supervised_example(messages, tools=tools, train_on=train_on)
        finally:
            self._local.exact = False


class PlainTextStopId(Qwen3Renderer):
    """Also stops on an ordinary text token (a stop *string* turned into its first token id):
    content containing " governance" would end a turn."""

    def stop_token_ids(self):
        return [*self._stop_ids, self.tokenizer.convert_tokens_to_ids("Ġgovernance")]

    def parse_response(self, ids):
        return parse_with(self.family, self.tokenizer, ids, self._stop_ids)


class StopsOnThinkClose(Qwen3Renderer):
    """Also stops on ``</think>``: a sampler would end every turn right after its reasoning."""

    def stop_token_ids(self):
        return [*self._stop_ids, self._enc.id("</think>")]

    def parse_response(self, ids):
        return parse_with(self.family, self.tokenizer, ids, self._stop_ids)


class BridgesAssistantMessages(Qwen3Renderer):
    """Bridges new assistant messages too (renders them as if sampled): assistant turns must be
    sampled, never bridged."""

    def bridge_to_next_turn(self, prev_prompt, prev_completion, new_messages, *, tools=None):
        if any(m.get("role") == "assistant" for m in new_messages):
            return [*prev_prompt, *prev_completion, *self._enc.text_ids("".join(m.get("content") or "" for m in new_messages))]
        return super().bridge_to_next_turn(prev_prompt, prev_completion, new_messages, tools=tools)


class LeavesTruncatedTurnOpen(Qwen3Renderer):
    """After a truncated completion (no <|im_end|>), starts the next message without closing the turn."""

    def bridge_to_next_turn(self, prev_prompt, prev_completion, new_messages, *, tools=None):
        out = super().bridge_to_next_turn(prev_prompt, prev_completion, new_messages, tools=tools)
        k = len(prev_prompt) + len(prev_completion)
        if out is not None and prev_completion and prev_completion[-1] not in self._stop_ids and out[k] == self._im_end:
            del out[k]
        return out


class RaisesOnGarbage(Qwen3Renderer):
    """Looks every id up in the vocabulary before parsing: an id outside it raises IndexError."""

    def parse_response(self, ids):
        size = len(self.tokenizer)
        for i in ids:
            if not 0 <= i < size:
                raise IndexError(f"token id {i} out of range")
        return super().parse_response(ids)


class PerTurnExamplesTrainThePrompt(Qwen3Renderer):
    """Its per-turn examples weigh the generation prompt as well as the sampled completion."""

    def build_supervised_examples(self, messages, *, tools=None, train_on="all_assistant_messages"):
        out = super().build_supervised_examples(messages, tools=tools, train_on=train_on)
        for ex in out:
            ex.weights = [1.0] * len(ex.ids)
        return out


# ---- findings: failures grouped into root causes ------------------------------------------------


class SeamAndInjection(SpecialTokensInUserText):
    """Two distinct defects, each over many cases: user text that spells a special token becomes
    the special id (security), and the newline after <|im_end|> between messages is lost in full
    renders (training)."""

    def render(self, messages, *, tools=None, add_generation_prompt=False):
        out = super().render(messages, tools=tools, add_generation_prompt=add_generation_prompt)
        for i in range(len(out.ids) - 2):
            if out.ids[i] == self._im_end and out.ids[i + 1] == 198 and out.ids[i + 2] == self._enc.id("<|im_start|>"):
                del out.ids[i + 1]
                if out.message_indices is not None:
                    del out.message_indices[i + 1]
                break
        return out

    def __reduce__(self):
        return (SeamAndInjection, ())


class DropsFinalNewline(Qwen3Renderer):
    """Ends full renders and supervised examples at the final <|im_end|>, without the template's
    trailing newline (tinker-cookbook and tml-renderers do): benign, a note, never a failure."""

    def _trim(self, ids):
        return ids[:-1] if len(ids) > 1 and ids[-1] == 198 and ids[-2] == self._im_end else ids

    def render(self, messages, *, tools=None, add_generation_prompt=False):
        out = super().render(messages, tools=tools, add_generation_prompt=add_generation_prompt)
        if not add_generation_prompt and len(self._trim(out.ids)) < len(out.ids):
            out.ids = out.ids[:-1]
            out.message_indices = None if out.message_indices is None else out.message_indices[:-1]
        return out

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        ex = super().build_supervised_example(messages, tools=tools, train_on=train_on)
        n = len(self._trim(ex.ids))
        ex.ids, ex.weights = ex.ids[:n], ex.weights[:n]
        return ex


class UnmergedImagePatches(Qwen35Renderer):
    """Counts one ``<|image_pad|>`` per 16-pixel patch instead of per merged 2x2 block (four times
    the processor's count); text renders as before."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._grid = dataclasses.replace(self._grid, merge_size=1)


class TrainsOnImages(Qwen35Renderer):
    """Weighs every image's tokens 1 in supervised examples, whatever the train-on choice."""

    def build_supervised_example(self, messages, *, tools=None, train_on="last_assistant_message"):
        ex = super().build_supervised_example(messages, tools=tools, train_on=train_on)
        start, end = self._enc.id("<|vision_start|>"), self._enc.id("<|vision_end|>")
        inside = False
        for t, i in enumerate(ex.ids):
            inside = inside or i == start
            if inside:
                ex.weights[t] = 1.0
            inside = inside and i != end
        return ex
