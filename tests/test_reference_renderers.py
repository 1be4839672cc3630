"""Reference renderers outside the suite: the registry, input validation, pickling by reference.

(The suite itself certifies them: tests/test_reference_certified.py.)"""

from __future__ import annotations

import pickle

import pytest

from conformance.errors import InvalidMessagesError, UnknownModelError
from conformance.fixtures.registry import load_registry
from reference_renderers import (
    TemplateRenderer,
    get_renderer,
    renderer_names,
)
from reference_renderers.families import FAMILIES

#: every registered model: each is served by its family's hand-written class (the registry says
#: which family; the class says it serves it)
MODELS = list(load_registry())


@pytest.fixture(scope="module", params=MODELS)
def renderer(request):
    return get_renderer(request.param)


def test_registry_dispatches_on_family_and_falls_back_to_the_template():
    for model_id, entry in load_registry().items():
        cls = FAMILIES[entry.family]
        assert type(get_renderer(model_id)) is cls and cls.family == entry.family
        # its default model is one of its family's
        assert load_registry()[cls.default_model].family == entry.family
    assert {"qwen3", "gpt-oss", "deepseek-v3", "llama3", "mistral-nemo"} <= set(renderer_names())
    assert type(TemplateRenderer(model_id="openai/gpt-oss-20b")) is TemplateRenderer
    with pytest.raises(UnknownModelError, match="renderers: .*qwen3.*model ids: .*Qwen/Qwen3-8B"):
        get_renderer("no-such-model")
    with pytest.raises(UnknownModelError, match="no variant 'turbo'; known: thinking, no_thinking"):
        get_renderer("Qwen/Qwen3-8B", variant="turbo")


@pytest.mark.parametrize(
    "messages, problem",
    [
        ([{"role": "user", "content": "hi"}, {"role": "wizard", "content": "x"}], r"message 1: unknown role 'wizard'"),
        ([{"role": "user", "content": 42}], r"message 0 \(user\): content must be a string, got int"),
        (
            [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": "{not json"}}],
                },
            ],
            r"message 1 tool_calls\[0\].*not (valid )?JSON",
        ),
        ([{"role": "user", "content": "hi", "trainable": "yes"}], r"message 0: trainable must be True or False, got 'yes'"),
    ],
    ids=["unknown-role", "content-not-text", "arguments-not-json", "trainable-not-bool"],
)
def test_bad_input_is_a_clear_error_naming_the_message(renderer, messages, problem):
    with pytest.raises(InvalidMessagesError, match=problem):
        renderer.render(messages)


def test_pickles_by_reference_small_and_identical(renderer):
    blob = pickle.dumps(renderer)
    # model id + variant (+ Qwen3-8B's 1,909 unformable vocabulary entries, ~10 KB), never the tokenizer
    assert len(blob) < 16_000
    again = pickle.loads(blob)
    msgs = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there."}]
    assert again.render(msgs).ids == renderer.render(msgs).ids and repr(again) == repr(renderer)


def test_template_refusals_are_errors_not_guesses():
    call = {"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    two_calls = [{"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": [call, call]}]
    with pytest.raises(InvalidMessagesError, match="message 1 .*exactly one tool call"):
        get_renderer("meta-llama/Llama-3.1-8B-Instruct").render(two_calls)
    with pytest.raises(InvalidMessagesError, match="message 1 .*cannot render tool calls"):
        get_renderer("deepseek-ai/DeepSeek-V3").render(two_calls[:1] + [{**two_calls[1], "tool_calls": [call]}])
    with pytest.raises(InvalidMessagesError, match="message 1 .*alternate"):
        get_renderer("mistralai/Mistral-Nemo-Instruct-2407").render([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    late_system = [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]
    with pytest.raises(InvalidMessagesError, match="message 1: a system message must be the first"):
        get_renderer("Qwen/Qwen3.5-9B").render(late_system)
    with pytest.raises(InvalidMessagesError, match="no user query"):
        get_renderer("Qwen/Qwen3.6-35B-A3B").render([{"role": "system", "content": "only"}])
    short_id = {**call, "id": "c1"}
    with pytest.raises(InvalidMessagesError, match="9-character call id"):
        get_renderer("mistralai/Mistral-Nemo-Instruct-2407").render([two_calls[0], {**two_calls[1], "tool_calls": [short_id]}])


def test_llama_accepts_the_ipython_role_exactly_as_its_template_renders_it():
    from conformance.fixtures.registry import get_model
    from conformance.oracle import Oracle

    entry = get_model("meta-llama/Llama-3.1-8B-Instruct")
    call = {"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": '{"x": true}'}}
    msgs = [
        {"role": "user", "content": "Run f."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "ipython", "content": '{"ok": 1}'},
        {"role": "assistant", "content": "Done."},
    ]
    oracle = Oracle(entry)
    for variant in entry.variants.values():
        r = get_renderer(entry.model_id, variant=variant.name)
        assert r.render(msgs).ids == oracle.encode(msgs, None, variant, add_generation_prompt=False).ids
    with pytest.raises(InvalidMessagesError, match="message 2: unknown role 'ipython'"):
        get_renderer("Qwen/Qwen3-8B").render(msgs)


# ---- GLM-5: the next message's marker closes an assistant turn (conformance/oracle/turn_end.py) ---------
_GLM_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}


def test_glm_supervised_example_ends_with_the_marker_the_model_samples():
    r = get_renderer("zai-org/GLM-5.2", variant="thinking")
    user, observation = r._enc.id("<|user|>"), r._enc.id("<|observation|>")
    answer = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    full = r.render(answer).ids
    ex = r.build_supervised_example(answer)
    # The template's render has no token after the answer; the example adds the <|user|> the model
    # samples to end it, and trains on it.
    assert ex.ids == full + [user] and ex.weights[-1] == 1.0 and full[-1] != user
    call = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": [_GLM_CALL]}]
    ex = r.build_supervised_example(call)
    assert ex.ids[-1] == observation and ex.weights[-1] == 1.0
    # A turn inside the conversation is closed by the next message's marker, which is in the render.
    two = answer + [{"role": "user", "content": "More?"}, {"role": "assistant", "content": "Sure."}]
    ex = r.build_supervised_example(two, train_on="all_assistant_messages")
    trained = [t for t, w in zip(ex.ids, ex.weights) if w]
    assert trained.count(user) == 2 and ex.ids.count(user) == 3
    # A conversation that does not end with an assistant message is the render as it is.
    assert r.build_supervised_example(two[:3], train_on="all_tokens").ids == r.render(two[:3]).ids


def test_glm_turn_followed_by_a_system_message_has_no_end_a_model_samples():
    r = get_renderer("zai-org/GLM-5.2", variant="thinking")
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "More?"}, {"role": "assistant", "content": "Sure."}]
    with pytest.raises(InvalidMessagesError, match="message 1: no end-of-turn token closes it"):
        r.build_supervised_example(msgs, train_on="all_assistant_messages")
    # The last turn alone is still trainable.
    assert sum(r.build_supervised_example(msgs).weights) > 0


def test_glm_bridge_shares_the_sampled_marker_and_keeps_any_other_stop():
    from conformance.fixtures.registry import get_model
    from conformance.oracle import Oracle

    entry = get_model("zai-org/GLM-5.2")
    variant = entry.variant("thinking")
    r = get_renderer(entry.model_id, variant="thinking")
    oracle = Oracle(entry)
    user, eot = r._enc.id("<|user|>"), r._enc.id("<|endoftext|>")
    history = [{"role": "user", "content": "Hi"}]
    prompt = r.build_generation_prompt(history)
    sampled = [r._enc.id("</think>")] + r._enc.text_ids("Hello.")  # the prompt opened <think>
    new = [{"role": "user", "content": "More?"}]
    template_next = oracle.encode(history + [{"role": "assistant", "content": "Hello."}, *new], None, variant,
                                  add_generation_prompt=True).ids
    # Stopped on <|user|>: the marker is shared with the new user message, as the template writes it.
    assert r.bridge_to_next_turn(prompt, sampled + [user], new) == template_next
    # Truncated: the new message's marker closes the turn, as the template closes every turn.
    assert r.bridge_to_next_turn(prompt, sampled, new) == template_next
    # Stopped on <|endoftext|>: kept as sampled, then the new message with its own marker.
    out = r.bridge_to_next_turn(prompt, sampled + [eot], new)
    assert out[: len(prompt) + len(sampled) + 2] == prompt + sampled + [eot, user]
    assert out[len(prompt) + len(sampled) + 1 :] == template_next[len(prompt) + len(sampled) :]
    assert r.bridge_to_next_turn(prompt, sampled + [user], [{"role": "assistant", "content": "x"}]) is None


# ---- training on templates without the extension property (the tinker-cookbook tutorial) ---------
TUTORIAL = [
    {"role": "system", "content": "Answer concisely; at most one sentence per response"},
    {"role": "user", "content": "What is the longest-lived rodent species?"},
    {"role": "assistant", "content": "The naked mole rat, which can live over 30 years."},
    {"role": "user", "content": "How do they live so long?"},
    {"role": "assistant", "content": "They evolved multiple protective mechanisms including special hyaluronic acid that prevents "
                                     "cancer, extremely stable proteins, and efficient DNA repair systems that work together to "
                                     "prevent aging."},
]


def test_the_tutorial_conversation_trains_on_the_answers_alone():
    """tinker-cookbook's rendering tutorial, Qwen3.6 with thinking: 100 ids (and the template's
    trailing newline), 32 weighted tokens for the last answer, 47 for both; the empty
    ``<think>\\n\\n</think>\\n\\n`` the template writes weighs 0."""
    r = get_renderer("Qwen/Qwen3.6-35B-A3B")
    assert r.variant == "thinking"
    last = r.build_supervised_example(TUTORIAL)
    both = r.build_supervised_example(TUTORIAL, train_on="all_assistant_messages")
    assert last.ids == both.ids == r.render(TUTORIAL).ids and len(last.ids) == 101
    assert r.tokenizer.decode(last.ids[100:]) == "\n"
    assert sum(last.weights) == 32 and sum(both.weights) == 47
    trained = r.tokenizer.decode([t for t, w in zip(last.ids, last.weights) if w])
    assert trained == TUTORIAL[-1]["content"] + "<|im_end|>"
    # What the model sampled, turn by turn: each prompt as it was, then the sampled continuation.
    examples = r.build_supervised_examples(TUTORIAL, train_on="all_assistant_messages")
    assert len(examples) == 2
    for ex, k in zip(examples, (2, 4)):
        prompt = r.build_generation_prompt(TUTORIAL[:k])
        assert ex.ids[: len(prompt)] == prompt and not any(ex.weights[: len(prompt)])
        sampled = r.tokenizer.decode(ex.ids[len(prompt):])
        assert sampled == "\n</think>\n\n" + TUTORIAL[k]["content"] + "<|im_end|>" and all(ex.weights[len(prompt):])


@pytest.mark.parametrize("model_id", MODELS)
def test_a_plain_sft_conversation_trains_on_every_variant(model_id):
    """A system prompt and three user/assistant exchanges: every train-on choice works on every
    variant (the template renders it, so no refusal)."""
    from conformance.fixtures.registry import get_model

    msgs = [{"role": "system", "content": "Be brief."}]
    for q, a in (("Hi", "Hello."), ("Capital of Peru?", "Lima."), ("Thanks", "You're welcome.")):
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    for variant in get_model(model_id).variants:
        r = get_renderer(model_id, variant=variant)
        for train_on in ("last_assistant_message", "last_assistant_turn", "all_assistant_messages", "all_tokens"):
            ex = r.build_supervised_example(msgs, train_on=train_on)
            assert len(ex.ids) == len(ex.weights) and sum(ex.weights) > 0, (variant, train_on)
        whole = r.build_supervised_example(msgs, train_on="all_assistant_messages")
        trained = r.tokenizer.decode([t for t, w in zip(whole.ids, whole.weights) if w])
        assert all(a in trained for a in ("Hello.", "Lima.", "You're welcome.")) and "Capital" not in trained, (variant, trained)


_WEATHER = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
                                              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


def test_a_tool_prefix_is_read_back_as_tools_and_keeps_message_indices():
    """The prefix declares tools once; every method reads it back as ``tools=``. Where its system
    prompt is empty it stands for no message, and the conversation's indices stay the caller's."""
    r = get_renderer("Qwen/Qwen3-8B")
    msgs = [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "Sunny."}]
    want = r.render(msgs, tools=_WEATHER)
    prefix = r.create_conversation_prefix_with_tools(_WEATHER)
    got = r.render(prefix + msgs)
    assert got.ids == want.ids
    assert got.message_indices == [i + 1 if i >= 0 else i for i in want.message_indices]
    assert r.build_generation_prompt(prefix + msgs[:1]) == r.build_generation_prompt(msgs[:1], tools=_WEATHER)
    sys_prefix = r.create_conversation_prefix_with_tools(_WEATHER, "Be brief.")
    with_system = [{"role": "system", "content": "Be brief."}, *msgs]
    assert r.build_supervised_example(sys_prefix + msgs).weights == r.build_supervised_example(with_system, tools=_WEATHER).weights


def test_tools_declared_twice_or_by_a_user_message_are_refused_by_name():
    r = get_renderer("Qwen/Qwen3-8B")
    prefix = r.create_conversation_prefix_with_tools(_WEATHER)
    with pytest.raises(InvalidMessagesError, match="message 0 declares tools and tools= is given as well"):
        r.render([*prefix, {"role": "user", "content": "hi"}], tools=_WEATHER)
    with pytest.raises(InvalidMessagesError, match=r"message 0 \(user\): only a system message declares tools"):
        r.render([{"role": "user", "content": "hi", "declares_tools": _WEATHER}])
