"""Adapters against the real peer libraries (never mocks).

Prime Intellect ``renderers`` is small and in the ``dev`` extra, so these run in CI. tinker-cookbook
(which pins an older transformers/tokenizers) and tml-renderers need torch, so each lives in its
own environment: ``nox -s peers`` creates both and runs this module in each (here their tests
skip, saying so). Each adapter claim about a library is a test that calls the library the way the
adapter does and compares with the template (the goldens) on one case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.adapters import adapt, detect_style
from conformance.fixtures.cases import load_cases
from conformance.fixtures.goldens import load_golden
from conformance.fixtures.registry import get_model
from conformance.protocol import Termination

REPO = Path(__file__).resolve().parent.parent
QWEN = get_model("Qwen/Qwen3-8B")
CASES = {c.id: c for c in load_cases()}


# ---- Prime Intellect renderers ---------------------------------------------------------------
@pytest.fixture(scope="module")
def prime_qwen():
    pytest.importorskip("renderers", reason="Prime Intellect renderers not installed (pip install renderers httpx)")
    from conformance.peers import prime

    raw = prime(QWEN.tokenizer(), model_id=QWEN.model_id, variant="thinking")
    return raw, adapt(raw, tokenizer=QWEN.tokenizer())


def test_prime_style_is_detected_and_drives_the_real_library(prime_qwen):
    raw, r = prime_qwen
    assert detect_style(raw) == "prime" and r.style == "prime"
    case = CASES["basic-two-turns"]
    g = load_golden(QWEN, "thinking", case.id)
    assert r.build_generation_prompt(case.messages_list()[:-1]) == g.prompt.ids
    # Stop ids: Prime's own list, through the adapter.
    assert 151645 in r.stop_token_ids()


def test_prime_images_go_through_the_processor_it_is_given(prime_qwen):
    """On a vision model the factory passes the model's processor to Prime's renderer (its
    constructor's ``processor=``), which expands each image as the processor does: its ids and
    its own multimodal data (one case against the image golden; the suite judges the rest)."""
    from conformance.fixtures.cases import load_image_cases
    from conformance.fixtures.goldens import load_image_golden
    from conformance.images import for_renderer
    from conformance.peers import prime

    entry = get_model("Qwen/Qwen3.5-9B")
    raw = prime(entry.tokenizer(), model_id=entry.model_id, variant="thinking")
    r = adapt(raw, tokenizer=entry.tokenizer())
    assert r.capabilities.images and not prime_qwen[1].capabilities.images  # Qwen3-8B takes no images
    case = next(c for c in load_image_cases() if c.id == "image-describe")
    msgs = for_renderer(case.messages_list())[:-1]
    out = raw.render(msgs, add_generation_prompt=True)
    g = load_image_golden(entry, "thinking", case.id)
    assert list(out.token_ids) == r.build_generation_prompt(msgs) == g["prompt"]["ids"]
    assert out.multi_modal_data is not None


def test_prime_parse_keeps_typed_json_and_infers_termination(prime_qwen):
    _, r = prime_qwen
    g = load_golden(QWEN, "thinking", "tools-args-booleans")
    ids = g.completion.ids
    p = r.parse_response(ids)
    assert p.termination == Termination.STOP_SEQUENCE
    assert p.tool_calls == g.completion.expected["tool_calls"]
    assert r.parse_response(ids[:-1]).termination == Termination.MALFORMED  # no stop id: not clean


def test_prime_supervised_example_and_bridge_go_through(prime_qwen):
    _, r = prime_qwen
    msgs = CASES["tools-single-call-with-response"].messages_list()
    ex = r.build_supervised_example(msgs, tools=CASES["tools-single-call-with-response"].tools_list(), train_on="all_assistant_messages")
    assert len(ex.ids) == len(ex.weights) and 0 < sum(ex.weights) < len(ex.weights)
    with pytest.raises(ValueError, match="all assistant messages only"):
        r.build_supervised_example(msgs, train_on="last_assistant_message")
    assert r.capabilities.bridge


def test_prime_certification_run_reports_the_adapter(pytester):
    pytest.importorskip("renderers")
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--renderer", "conformance.peers:prime", "--model", "Qwen/Qwen3-8B", "-p", "no:cacheprovider",
                                           "-k", "stop_sequences or roundtrip or pickle", "--conformance-report", str(report))
    data = json.loads(report.read_text())
    assert data["metadata"]["adapter"] == "prime" and data["metadata"]["implementation_version"] not in ("", "unknown")
    assert data["areas"]["roundtrip"].get("passed", 0) > 100, result.stdout.str()[-2000:]
    assert not [t for t in data["tests"] if t["outcome"] == "error"]


def test_a_peer_without_a_renderer_for_the_family_is_a_configuration_error(pytester):
    pytest.importorskip("renderers")
    result = pytester.runpytest_subprocess("--renderer", "conformance.peers:prime", "--model", "mistralai/Mistral-Nemo-Instruct-2407",
                                           "-p", "no:cacheprovider")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*has no renderer for mistralai/Mistral-Nemo-Instruct-2407 [[]default[]] (family 'mistral-nemo')*"])


# ---- tinker-cookbook (its own environment: nox -s peers) -------------------------------------
@pytest.fixture(scope="module")
def tinker_qwen():
    pytest.importorskip("tinker_cookbook", reason="tinker-cookbook lives in its own environment: run `nox -s peers`")
    from conformance.peers import tinker

    raw = tinker(QWEN.tokenizer(), model_id=QWEN.model_id, variant="thinking")
    return raw, adapt(raw, tokenizer=QWEN.tokenizer())


def test_tinker_style_is_detected_and_renders_tools(tinker_qwen):
    raw, r = tinker_qwen
    assert detect_style(raw) == "tinker" and r.capabilities.tools
    case = CASES["tools-single-call-with-response"]
    g = load_golden(QWEN, "thinking", case.id)
    assert r.build_generation_prompt(case.messages_list()[:-1], tools=case.tools_list()) == g.prompt.ids


def test_tinker_parse_reports_its_own_termination(tinker_qwen):
    _, r = tinker_qwen
    g = load_golden(QWEN, "thinking", "reasoning-last-turn")
    ids = g.completion.ids
    p = r.parse_response(ids)
    assert p.termination == Termination.STOP_SEQUENCE
    assert p.reasoning_content.strip() == g.completion.expected["reasoning_content"].strip()
    assert r.parse_response(ids[:-1]).termination != Termination.STOP_SEQUENCE


def test_tinker_streams_exactly_what_its_streaming_parser_yields(tinker_qwen):
    """The adapter's deltas are tinker's own text and thinking deltas, in order, then the tool calls
    of its closing message; and those deltas are the template's completion text (HF decodes the
    same ids to the think tags around them)."""
    raw, r = tinker_qwen
    assert r.capabilities.streaming
    g = load_golden(QWEN, "thinking", "reasoning-last-turn")
    ids = g.completion.ids
    lib = list(raw.parse_response_streaming(list(ids)))
    text = [d.text for d in lib if type(d).__name__ == "StreamingTextDelta"]
    thinking = [d.thinking for d in lib if type(d).__name__ == "StreamingThinkingDelta"]
    ours = list(r.parse_response_streaming([[i] for i in ids]))
    assert [d.content for d in ours if d.content] == text and [d.reasoning_content for d in ours if d.reasoning_content] == thinking
    assert ours[-1].termination == r.parse_response(ids).termination == Termination.STOP_SEQUENCE
    decoded = QWEN.tokenizer().decode(ids[:-1])
    assert decoded == "<think>" + "".join(thinking) + "</think>" + "".join(text)
    assert "".join(thinking).strip() == g.completion.expected["reasoning_content"].strip()


def test_tinker_openai_message_is_its_own_and_renders_through_hf(tinker_qwen):
    """The adapter's OpenAI message is tinker's ``to_openai_message`` of tinker's own parse, and HF's
    template renders it after the earlier messages to the golden full render (a case with
    reasoning: tinker's Qwen3 message carries it as ``reasoning_content``)."""
    raw, r = tinker_qwen
    assert r.capabilities.openai_message
    case = CASES["reasoning-last-turn"]
    g = load_golden(QWEN, "thinking", case.id)
    ids = list(g.completion.ids)
    msg, _ = raw.parse_response(ids)
    assert r.to_openai_message(ids) == raw.to_openai_message(msg)
    text = QWEN.tokenizer().apply_chat_template(case.messages_list()[:-1] + [r.to_openai_message(ids)], tokenize=False)
    assert text == g.full.text


def test_tinker_user_turn_prompt_is_its_own_and_what_hf_writes(tinker_qwen):
    """``role="user"`` reaches tinker's ``build_generation_prompt`` unchanged, and after a system
    message tinker opens the user turn as HF's template does (the text before a user message's
    content). After an answer it does not: tinker keeps the answer's empty think block, which the
    template drops once a user message follows (a finding of tinker's, judged by the suite)."""
    raw, r = tinker_qwen
    assert r.capabilities.prompt_roles == ("user",)
    tok = QWEN.tokenizer()
    for msgs in ([{"role": "system", "content": "Be brief."}], CASES["basic-two-turns"].messages_list()):
        ids = r.build_generation_prompt(msgs, role="user")
        assert ids == [int(i) for i in raw.build_generation_prompt(msgs, role="user").to_ints()]
    text = tok.apply_chat_template([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "\ue008"}], tokenize=False)
    assert tok.decode(r.build_generation_prompt([{"role": "system", "content": "Be brief."}], role="user")) == text[: text.index("\ue008")]
    golden = load_golden(QWEN, "thinking", "basic-two-turns").user_prompt
    assert "<think>\n\n</think>" in tok.decode(ids) and "<think>\n\n</think>" not in golden.text


def test_tinker_tool_prefix_is_its_own_and_renders_as_hf_with_tools(tinker_qwen):
    """The adapter's prefix is tinker's ``create_conversation_prefix_with_tools`` (tool specs as
    tinker takes them); followed by the conversation it gives HF's prompt with ``tools=``."""
    raw, r = tinker_qwen
    assert r.capabilities.tool_prefix
    case = CASES["tools-with-system"]
    msgs, tools = case.messages_list(), case.tools_list()
    prefix = r.create_conversation_prefix_with_tools(tools, msgs[0]["content"])
    assert prefix == list(raw.create_conversation_prefix_with_tools([t["function"] for t in tools], msgs[0]["content"]))
    prompt_msgs = msgs[1:-1] if msgs[-1]["role"] == "assistant" else msgs[1:]
    ids = r.build_generation_prompt(prefix + prompt_msgs)
    want = QWEN.tokenizer().apply_chat_template(msgs[: len(prompt_msgs) + 1], tools=tools, add_generation_prompt=True, tokenize=False)
    assert QWEN.tokenizer().decode(ids) == want


def test_tinker_images_are_its_own_chunks_sized_as_the_processor_sizes_them(tinker_qwen):
    """On a vision model the factory hands tinker the snapshot's image processor; the adapter
    turns each of tinker's image chunks into its ``expected_tokens`` pads, which gives the ids
    transformers' processor gives (one case; the suite judges the rest)."""
    from conformance.fixtures.cases import load_image_cases
    from conformance.fixtures.goldens import load_image_golden
    from conformance.images import for_renderer

    raw, r = _peer("tinker", "Qwen/Qwen3.5-9B", "thinking")
    assert r.capabilities.images
    case = next(c for c in load_image_cases() if c.id == "image-describe")
    msgs = for_renderer(case.messages_list())[:-1]
    model_input = raw.build_generation_prompt(msgs)
    chunks = [c for c in model_input.chunks if getattr(c, "type", None) == "image"]
    g = load_image_golden(get_model("Qwen/Qwen3.5-9B"), "thinking", case.id)
    assert [c.expected_tokens for c in chunks] == [img["tokens"] for img in g["images"]] == [300]
    assert r.build_generation_prompt(msgs) == g["prompt"]["ids"]


def test_tinker_supervised_weights_cover_the_final_answer(tinker_qwen):
    _, r = tinker_qwen
    msgs = CASES["basic-two-turns"].messages_list()
    ex = r.build_supervised_example(msgs, train_on="last_assistant_message")
    g = load_golden(QWEN, "thinking", "basic-two-turns")
    (start, end), = g.weights["last_assistant_message"].spans
    # tinker ends the example at <|im_end|> (no trailing "\n"): the trained span itself agrees.
    assert ex.ids[start:end] == g.full.ids[start:end]
    assert [i for i, w in enumerate(ex.weights) if w] == list(range(start, end))


def _peer(name: str, model_id: str, variant: str | None = None):
    """The peer factory called as the plugin calls it, and the adapter over it."""
    from conformance import peers

    entry = get_model(model_id)
    raw = getattr(peers, name)(entry.tokenizer(), model_id=model_id, variant=variant or next(iter(entry.variants)))
    return raw, adapt(raw, tokenizer=entry.tokenizer())


def test_tinker_gpt_oss_writes_the_pinned_date_as_the_oracle_does(tinker_qwen):
    """The factory sets tinker's documented ``current_date`` override to the registry's pinned date:
    the prompt then equals HF's (whose strftime_now the oracle pins), not today's."""
    gpt = get_model("openai/gpt-oss-20b")
    raw, r = _peer("tinker", gpt.model_id, "reasoning_medium")
    assert raw.current_date == gpt.pinned_date
    g = load_golden(gpt, "reasoning_medium", "basic-single-turn")
    assert r.build_generation_prompt(CASES["basic-single-turn"].messages_list()[:-1]) == g.prompt.ids


def test_tinker_has_no_full_render_and_its_training_ids_keep_the_tools(tinker_qwen):
    _, r = tinker_qwen
    assert not r.capabilities.full_render  # no full-conversation parity check judges SFT ids
    case = CASES["tools-single-call-with-response"]
    g = load_golden(QWEN, "thinking", case.id)
    ids = r.render(case.messages_list(), tools=case.tools_list()).ids
    # The declared tools are in it (tinker ends at <|im_end|>, without the template's trailing "\n").
    assert ids == g.full.ids[:-1]


def test_tinker_llama_does_not_claim_tools_it_refuses(tinker_qwen):
    raw, r = _peer("tinker", "meta-llama/Llama-3.1-8B-Instruct")
    with pytest.raises(NotImplementedError):
        raw.create_conversation_prefix_with_tools([{"name": "f", "description": "d", "parameters": {"type": "object"}}], "")
    assert not r.capabilities.tools
    assert get_model("meta-llama/Llama-3.1-8B-Instruct") and _peer("tinker", QWEN.model_id)[1].capabilities.tools


# ---- tml-renderers (its own environment: nox -s peers) ----------------------------------------
@pytest.fixture(scope="module")
def tml_installed():
    pytest.importorskip("tml_renderers", reason="tml-renderers lives in its own environment: run `nox -s peers`")


def _deepseek_v3():
    """DeepSeek-V3's entry, skipped where the installed transformers cannot load its snapshot as
    recorded (tinker-cookbook's environment, which also installs tml-renderers, resolves
    transformers 5.5.4: our loader refuses it, a deliberate error; the tml environment runs these)."""
    from conformance.errors import FixtureError

    v3 = get_model("deepseek-ai/DeepSeek-V3")
    try:
        v3.tokenizer()
    except FixtureError as e:
        pytest.skip(f"this environment's transformers cannot load the snapshot: {e}")
    return v3


def test_tml_deepseek_declines_tool_declarations_and_renders_as_hf(tml_installed):
    """tml's DeepSeek renderers reject a ``tool_declare`` message; the adapter leaves it out, as
    DeepSeek-V3's template does: the prompt with tools declared equals HF's."""
    v3 = _deepseek_v3()
    raw, r = _peer("tml", v3.model_id)
    from tml_renderers import chat

    tools = CASES["tools-declared-no-call"].tools_list()
    with pytest.raises(ValueError, match="Unsupported content type"):
        raw.render_for_completion(chat.MessageList.from_oss_messages(
            [{"role": "tool_declare", "content": json.dumps(tools)}, {"role": "user", "content": "x"}]))
    case = CASES["tools-declared-no-call"]
    g = load_golden(v3, "default", case.id)
    assert r.build_generation_prompt(case.messages_list()[:-1], tools=tools) == g.prompt.ids


def test_tml_single_example_trains_every_turn_and_is_filed_so(tml_installed):
    """Where render_for_sft returns one example training every assistant turn (Kimi, DeepSeek,
    GLM), it is offered as all_assistant_messages; where it returns one per turn (Qwen), the last
    is last_assistant_message and the list is build_supervised_examples."""
    k26 = get_model("moonshotai/Kimi-K2.6")
    _, kimi = _peer("tml", k26.model_id, "thinking")
    assert kimi.capabilities.train_on == ("all_assistant_messages",) and not kimi.capabilities.supervised_examples
    msgs = CASES["basic-two-turns"].messages_list()
    ex = kimi.build_supervised_example(msgs, train_on="all_assistant_messages")
    g = load_golden(k26, "thinking", "basic-two-turns")
    spans = g.weights["all_assistant_messages"].spans
    assert [i for i, w in enumerate(ex.weights) if w] == [i for a, b in spans for i in range(a, b)]
    _, qwen = _peer("tml", QWEN.model_id, "thinking")
    assert qwen.capabilities.train_on == ("last_assistant_message",) and qwen.capabilities.supervised_examples
    from conformance.oracle.turn_spans import ids_sha256

    gq = load_golden(QWEN, "thinking", "basic-two-turns")
    for ex, want in zip(qwen.build_supervised_examples(msgs, train_on="all_assistant_messages"), gq.sampled_examples):
        n = want.prompt_len
        assert ids_sha256(ex.ids[:n]) == want.prompt_sha256 and ex.ids[n:] == list(want.completion.ids)


def test_tml_deepseek_parse_is_clean_when_the_ids_end_with_a_stop(tml_installed):
    """tml's DeepSeek parser emits no end-of-sampling marker: a completion ending with the stop id
    is a clean stop, the same ids without it are not."""
    v3 = _deepseek_v3()
    _, r = _peer("tml", v3.model_id)
    g = load_golden(v3, "default", "basic-two-turns")
    ids = g.completion.ids
    p = r.parse_response(ids)
    assert p.termination == Termination.STOP_SEQUENCE and p.content.strip() == g.completion.expected["content"].strip()
    assert r.parse_response(ids[:-1]).termination == Termination.MALFORMED


def test_tml_serves_no_qwen36():
    from conformance.peers import serves

    assert "no renderer for Qwen/Qwen3.6-35B-A3B" in serves("tml", get_model("Qwen/Qwen3.6-35B-A3B"), "thinking")
    assert serves("tml", get_model("Qwen/Qwen3.5-9B"), "thinking") is None


# ---- a finding's reproduction script calls the library as the adapter does ----------------------
@pytest.mark.parametrize("peer, library, train_on", [
    ("prime", "renderers", "all_assistant_messages"),
    ("tinker", "tinker_cookbook", "all_assistant_messages"),
    ("tml", "tml_renderers", "last_assistant_message"),
])
def test_a_reproduction_script_gets_the_ids_the_adapter_gets(peer, library, train_on, monkeypatch):
    """The script ``conformance report findings`` writes (library and transformers alone) computes
    the same generation prompt and supervised example as the adapter, on a case with tool calls."""
    pytest.importorskip(library, reason=f"{library} not installed here (`nox -s peers` runs it in its own environment)")
    import sys

    from conformance.fixtures.snapshots import load_snapshot
    from conformance.report.reproduce import reproduction_script

    case = CASES["tools-single-call-with-response"]
    raw, adapted = _peer(peer, QWEN.model_id, "thinking")
    monkeypatch.setattr(sys, "argv", ["repro.py", str(load_snapshot("Qwen__Qwen3-8B").path)])
    for test, kind in (("test_template_parity.py::test_generation_prompt_matches_template", "prompt"),
                       ("test_loss_weights.py::test_supervised_weights_select_the_sampled_tokens", "supervised")):
        nodeid = f"{test}[{case.id}" + (f"-{train_on}]" if kind == "supervised" else "]")
        finding = {"title": "t", "class": "training", "reproduction": {"nodeid": nodeid, "case": case.id, "variant": "thinking",
                                                                        "model": QWEN.model_id}}
        script = reproduction_script(peer, finding, {})
        assert script is not None and "import conformance" not in script
        ns: dict = {"__name__": "__main__"}
        try:
            exec(compile(script, "repro.py", "exec"), ns)  # noqa: S102 - the script under test
        except AssertionError:
            pass  # the script's own verdict; what it computed is what is compared here
        msgs, tools = case.messages_list(), case.tools_list()
        if kind == "prompt":
            last = case.last_assistant_index
            assert ns["actual"] == adapted.build_generation_prompt(msgs[:last] if last is not None else msgs, tools=tools)
        else:
            ex = adapted.build_supervised_example(msgs, tools=tools, train_on=train_on)
            assert (ns["actual"], ns["weights"]) == (list(ex.ids), list(ex.weights))


def test_tinker_trains_exactly_the_flagged_messages(tinker_qwen):
    """Per-message train flags reach tinker-cookbook as its own ``trainable`` key with
    ``TrainOnWhat.CUSTOMIZED``; with the system prompt and the answer flagged and the user turn not,
    it trains what the goldens say."""
    _, r = tinker_qwen
    assert "customized" in r.capabilities.train_on
    # system, user, assistant: 0 and 2 flagged. (Qwen3 renders an answer in history otherwise than
    # sampled, so no multi-turn conversation has per-message spans on it.)
    case = CASES["basic-system-single-turn"]
    msgs = case.flagged_messages()
    g = load_golden(QWEN, "thinking", case.id)
    spans = g.message_spans([m["role"] for m in msgs])
    assert isinstance(spans, dict), spans
    flagged = [k for k, m in enumerate(msgs) if m["trainable"]]
    assert [msgs[k]["role"] for k in flagged] == ["system", "assistant"]
    ex = r.build_supervised_example(msgs, tools=case.tools_list(), train_on="customized")
    expected = sorted(i for k in flagged for i in range(*spans[k]))
    # tinker ends the example at <|im_end|> (no trailing "\n"): compare the trained ids themselves.
    assert [ex.ids[i] for i, w in enumerate(ex.weights) if w] == [g.full.ids[i] for i in expected]


def test_tml_parses_with_a_parser_per_completion(tml_installed, tmp_path, capsys, monkeypatch):
    """tml hands out a parser with each prompt (``render_for_completion``); one parser shared by
    every parse raced under the threads check (Qwen3.5 parses came back empty, MALFORMED, in 2 of 2
    runs), which would have been filed against the library. The adapter takes one per parse, and
    the threads check passes (3 s of tries)."""
    from inprocess import certify

    run = certify(tmp_path, capsys, monkeypatch, "--renderer", "conformance.peers:tml", "--model", "Qwen/Qwen3.5-9B",
                  "--conformance-variant", "no_thinking", "-k", "threads", "--conformance-thread-seconds", "3")
    outcomes = [t["outcome"] for t in run.report["tests"] if t["area"] == "threads"]
    assert outcomes == ["passed"], run.output[-2000:]
