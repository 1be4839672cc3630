"""Factories for the renderers the field trains with, ready for ``--renderer``.

``pytest --renderer conformance.peers:prime --model Qwen/Qwen3-8B --conformance-variant no_thinking``
builds Prime Intellect's renderer for that model and variant; ``conformance.peers:tinker`` does the
same for Thinking Machines' tinker-cookbook. Each factory maps our registry's family and variant
onto the library's own names and options, and raises :class:`PeerMismatchError` (a configuration
error, not a wall of failures) when the library has no renderer for that family or variant.

The libraries are optional (``pip install renderers httpx``; ``pip install tinker-cookbook
torch==2.13.0``); importing this module imports neither.
"""

from __future__ import annotations

from typing import Any

from conformance.errors import ConformanceError
from conformance.registry import ModelEntry, Variant, get_model

__all__ = ["prime", "tinker", "PeerMismatchError", "PRIME_CONFIGS", "TINKER_NAMES"]


class PeerMismatchError(ConformanceError):
    """The peer library has no renderer for this model family or variant."""


#: our family -> Prime ``renderers`` config class
PRIME_CONFIGS = {
    "qwen3": "Qwen3RendererConfig",
    "gpt-oss": "GptOssRendererConfig",
    "deepseek-v3": "DeepSeekV3RendererConfig",
    "llama3": "Llama3RendererConfig",
}

#: (our family, our variant) -> tinker-cookbook renderer name
TINKER_NAMES = {
    ("qwen3", "thinking"): "qwen3",
    ("qwen3", "no_thinking"): "qwen3_disable_thinking",
    ("gpt-oss", "reasoning_low"): "gpt_oss_low_reasoning",
    ("gpt-oss", "reasoning_medium"): "gpt_oss_medium_reasoning",
    ("gpt-oss", "reasoning_high"): "gpt_oss_high_reasoning",
    ("deepseek-v3", "default"): "deepseekv3",
    ("llama3", "default"): "llama3",
}


def _resolve(model_id: str | None, variant: str | None) -> tuple[ModelEntry, Variant]:
    if not model_id:
        raise PeerMismatchError("peer factories need the model id (pass --model)")
    entry = get_model(model_id)
    return entry, entry.variant(variant or next(iter(entry.variants)))


def prime(tokenizer: Any, model_id: str | None = None, variant: str | None = None) -> Any:
    """Prime Intellect ``renderers`` for this model and variant (``create_renderer`` with the
    family's config; the variant's template kwargs become config fields of the same name; gpt-oss
    also gets the registry's pinned date)."""
    entry, v = _resolve(model_id, variant)
    cls_name = PRIME_CONFIGS.get(entry.family)
    if cls_name is None:
        raise PeerMismatchError(
            f"Prime renderers: no renderer for family {entry.family!r} ({entry.model_id}); known: {', '.join(PRIME_CONFIGS)}"
        )
    if entry.family == "gpt-oss":
        # Prime renders gpt-oss through openai-harmony, which must find o200k offline.
        from conformance.harmony_oracle import load_encoding

        load_encoding(str(entry.root / "vocab"))
    import renderers as R  # the peer library

    cfg_cls = getattr(R, cls_name)
    fields = set(getattr(cfg_cls, "model_fields", {}))
    kwargs = {k: val for k, val in v.template_kwargs.items() if k in fields}
    unmapped = sorted(set(v.template_kwargs) - fields)
    if unmapped:
        raise PeerMismatchError(f"Prime {cls_name} has no option for variant {v.name!r} ({', '.join(unmapped)})")
    if "conversation_start_date" in fields:
        kwargs["conversation_start_date"] = entry.pinned_date
    return R.create_renderer(tokenizer, cfg_cls(**kwargs))


def tinker(tokenizer: Any, model_id: str | None = None, variant: str | None = None) -> Any:
    """tinker-cookbook's ``get_renderer(name, tokenizer)`` for this model and variant."""
    entry, v = _resolve(model_id, variant)
    name = TINKER_NAMES.get((entry.family, v.name))
    if name is None:
        known = ", ".join(f"{f}/{n}" for f, n in TINKER_NAMES)
        raise PeerMismatchError(f"tinker-cookbook: no renderer for {entry.family}/{v.name} ({entry.model_id}); known: {known}")
    from tinker_cookbook.renderers import get_renderer  # the peer library

    return get_renderer(name, tokenizer)
