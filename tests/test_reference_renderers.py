"""Reference renderers outside the suite: the registry, input validation, pickling by reference.

(The suite itself certifies them: tests/test_reference_certified.py.)"""

from __future__ import annotations

import pickle

import pytest

from conformance.errors import InvalidMessagesError, UnknownModelError
from reference_renderers import (
    DeepSeekV3Renderer,
    DeepSeekV31Renderer,
    GptOssRenderer,
    Llama3Renderer,
    MistralNemoRenderer,
    Nemotron3Renderer,
    Qwen3Renderer,
    Qwen35Renderer,
    TemplateRenderer,
    get_renderer,
    renderer_names,
)

HAND_WRITTEN = {
    "Qwen/Qwen3-8B": Qwen3Renderer,
    "deepseek-ai/DeepSeek-V3": DeepSeekV3Renderer,
    "openai/gpt-oss-20b": GptOssRenderer,
    "meta-llama/Llama-3.1-8B-Instruct": Llama3Renderer,
    "mistralai/Mistral-Nemo-Instruct-2407": MistralNemoRenderer,
    "Qwen/Qwen3.5-9B": Qwen35Renderer,
    "Qwen/Qwen3.6-35B-A3B": Qwen35Renderer,
    "deepseek-ai/DeepSeek-V3.1": DeepSeekV31Renderer,
    "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16": Nemotron3Renderer,
}


@pytest.fixture(scope="module", params=sorted(HAND_WRITTEN))
def renderer(request):
    return get_renderer(request.param)


def test_registry_dispatches_on_family_and_falls_back_to_the_template():
    for model_id, cls in HAND_WRITTEN.items():
        assert type(get_renderer(model_id)) is cls
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
        ([{"role": "user", "content": ["parts"]}], r"message 0 \(user\): content must be a string"),
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
    ],
    ids=["unknown-role", "content-not-text", "arguments-not-json"],
)
def test_bad_input_is_a_clear_error_naming_the_message(renderer, messages, problem):
    with pytest.raises(InvalidMessagesError, match=problem):
        renderer.render(messages)


def test_pickles_by_reference_small_and_identical(renderer):
    blob = pickle.dumps(renderer)
    assert len(blob) < 1000  # model id + variant, never the tokenizer
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
    from conformance.oracle import Oracle
    from conformance.registry import get_model

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
