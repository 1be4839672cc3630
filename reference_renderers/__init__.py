"""Reference renderers: our own implementations, which must pass the whole conformance suite.

    >>> from reference_renderers import get_renderer
    >>> r = get_renderer("Qwen/Qwen3-8B")            # hand-written, variant "thinking"
    >>> r = get_renderer("qwen3", variant="no_thinking")

``get_renderer(name_or_model_id, tokenizer=None, *, variant=None)`` accepts a registered renderer
name or a model id (dispatching on its family, falling back to ``TemplateRenderer``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reference_renderers.deepseek_v3 import DeepSeekV3Renderer
from reference_renderers.deepseek_v31 import DeepSeekV31Renderer
from reference_renderers.glm5 import Glm5Renderer
from reference_renderers.gpt_oss import GptOssRenderer
from reference_renderers.kimi import KimiRenderer
from reference_renderers.llama3 import Llama3Renderer
from reference_renderers.mistral_nemo import MistralNemoRenderer
from reference_renderers.nemotron3 import Nemotron3Renderer
from reference_renderers.qwen3 import Qwen3Renderer
from reference_renderers.qwen35 import Qwen35Renderer
from reference_renderers.template import TemplateRenderer

__all__ = [
    "HAND_WRITTEN",
    "get_renderer",
    "register_renderer",
    "renderer_names",
    "Qwen3Renderer",
    "Qwen35Renderer",
    "DeepSeekV3Renderer",
    "DeepSeekV31Renderer",
    "Glm5Renderer",
    "GptOssRenderer",
    "KimiRenderer",
    "Llama3Renderer",
    "MistralNemoRenderer",
    "Nemotron3Renderer",
    "TemplateRenderer",
]

#: family -> the hand-written renderer class that serves it (``reference_renderers:<name>``)
HAND_WRITTEN = {
    "qwen3": "Qwen3Renderer",
    "qwen3.5": "Qwen35Renderer",
    "deepseek-v3": "DeepSeekV3Renderer",
    "deepseek-v3.1": "DeepSeekV31Renderer",
    "gpt-oss": "GptOssRenderer",
    "llama3": "Llama3Renderer",
    "mistral-nemo": "MistralNemoRenderer",
    "nemotron3": "Nemotron3Renderer",
    "kimi-k2": "KimiRenderer",
    "glm5": "Glm5Renderer",
}

_FACTORIES: dict[str, Callable[..., Any]] = {}
_DEFAULT_MODEL = {
    "gpt-oss": "openai/gpt-oss-20b",
    "qwen3": "Qwen/Qwen3-8B",
    "qwen3.5": "Qwen/Qwen3.5-9B",
    "deepseek-v3": "deepseek-ai/DeepSeek-V3",
    "deepseek-v3.1": "deepseek-ai/DeepSeek-V3.1",
    "llama3": "meta-llama/Llama-3.1-8B-Instruct",
    "mistral-nemo": "mistralai/Mistral-Nemo-Instruct-2407",
    "nemotron3": "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
    "kimi-k2": "moonshotai/Kimi-K2.6",
    "glm5": "zai-org/GLM-5.2",
}


def register_renderer(name: str, factory: Callable[..., Any]) -> None:
    """Register ``factory(tokenizer, *, model_id, variant)`` under ``name`` (a family or alias)."""
    _FACTORIES[name] = factory


def renderer_names() -> list[str]:
    return sorted(_FACTORIES)


def get_renderer(name_or_model_id: str, tokenizer: Any = None, *, variant: str | None = None) -> Any:
    from conformance.errors import UnknownModelError
    from conformance.registry import load_registry

    reg = load_registry()
    if name_or_model_id in reg:
        entry = reg[name_or_model_id]
        factory = _FACTORIES.get(entry.family, TemplateRenderer)
        return factory(tokenizer, model_id=entry.model_id, variant=variant)
    if name_or_model_id in _FACTORIES:
        model_id = _DEFAULT_MODEL.get(name_or_model_id)
        if model_id is None:
            raise UnknownModelError(f"renderer {name_or_model_id!r} needs a model id")
        return _FACTORIES[name_or_model_id](tokenizer, model_id=model_id, variant=variant)
    raise UnknownModelError(
        f"unknown renderer or model {name_or_model_id!r}; renderers: {', '.join(renderer_names())}; model ids: {', '.join(reg)}"
    )


register_renderer("qwen3", Qwen3Renderer)
register_renderer("qwen3.5", Qwen35Renderer)
register_renderer("deepseek-v3", DeepSeekV3Renderer)
register_renderer("deepseek-v3.1", DeepSeekV31Renderer)
register_renderer("gpt-oss", GptOssRenderer)
register_renderer("llama3", Llama3Renderer)
register_renderer("mistral-nemo", MistralNemoRenderer)
register_renderer("nemotron3", Nemotron3Renderer)
register_renderer("kimi-k2", KimiRenderer)
register_renderer("glm5", Glm5Renderer)
