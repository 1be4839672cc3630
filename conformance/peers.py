"""Factories for the renderers the field trains with, ready for ``--renderer``.

``pytest --renderer conformance.peers:prime --model Qwen/Qwen3-8B --conformance-variant no_thinking``
builds Prime Intellect's renderer for that model and variant; ``conformance.peers:tinker`` does the
same for Thinking Machines' tinker-cookbook and ``conformance.peers:tml`` for its compiled
tml-renderers (whose tokenizers are built in: the factory proves the built-in vocabulary encodes
like the model's snapshot before it is used, so a wrong pairing is a configuration error).
Each factory maps our registry's family and variant
onto the library's own names and options, and raises :class:`PeerMismatchError` (a configuration
error, not a wall of failures) when the library has no renderer for that family or variant.

The libraries are optional (``pip install renderers httpx``; ``pip install tinker-cookbook
torch==2.13.0``; ``pip install tml-renderers torch==2.13.0``); importing this module imports none.
"""

from __future__ import annotations

from typing import Any

from conformance.errors import ConformanceError
from conformance.registry import ModelEntry, Variant, get_model

__all__ = ["prime", "tinker", "tml", "construction_source", "PeerMismatchError", "PRIME_CONFIGS", "TINKER_NAMES", "TML_RENDERERS",
           "PEERS", "serves"]


class PeerMismatchError(ConformanceError):
    """The peer library has no renderer for this model family or variant."""


#: our family, or a model id where one family spans several of Prime's configs -> config class
PRIME_CONFIGS = {
    "qwen3": "Qwen3RendererConfig",
    "gpt-oss": "GptOssRendererConfig",
    "deepseek-v3": "DeepSeekV3RendererConfig",
    "llama3": "Llama3RendererConfig",
    "Qwen/Qwen3.5-9B": "Qwen35RendererConfig",
    "Qwen/Qwen3.6-35B-A3B": "Qwen36RendererConfig",
    "nemotron3": "Nemotron3RendererConfig",
    "moonshotai/Kimi-K2-Thinking": "KimiK2RendererConfig",
    "moonshotai/Kimi-K2.5": "KimiK25RendererConfig",
    "moonshotai/Kimi-K2.6": "KimiK25RendererConfig",
    # Prime maps zai-org/GLM-5.1 to its GLM51 renderer and has none for GLM-5.2 (GLM-5 and 5.3 only)
    "zai-org/GLM-5.1": "GLM51RendererConfig",
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
    ("qwen3.5", "thinking"): "qwen3_5",
    ("qwen3.5", "no_thinking"): "qwen3_5_disable_thinking",
    ("qwen3.5", "preserve_thinking"): "qwen3_5_preserve_thinking",
    ("deepseek-v3.1", "non_thinking"): "deepseekv3_disable_thinking",
    ("deepseek-v3.1", "thinking"): "deepseekv3_thinking",
    ("nemotron3", "thinking"): "nemotron3",
    ("nemotron3", "no_thinking"): "nemotron3_disable_thinking",
    ("nemotron3", "keep_history_thinking"): "nemotron3_preserve_thinking",
    # one family, three templates: keyed by model id
    ("moonshotai/Kimi-K2-Thinking", "default"): "kimi_k2",
    ("moonshotai/Kimi-K2.5", "thinking"): "kimi_k25",
    ("moonshotai/Kimi-K2.5", "no_thinking"): "kimi_k25_disable_thinking",
    ("moonshotai/Kimi-K2.6", "thinking"): "kimi_k26",
    ("moonshotai/Kimi-K2.6", "no_thinking"): "kimi_k26_disable_thinking",
    ("moonshotai/Kimi-K2.6", "preserve_thinking"): "kimi_k26_preserve_thinking",
    # tinker-cookbook 0.5.8 has GLM-5.3 renderers only: GLM-5.1/5.2 are not served
}

#: (our family, our variant) -> (tml-renderers class, its named constructor or "" for the plain
#: one); gpt-oss also gets ``current_date`` = the registry's pinned date. Qwen3.5 and Qwen3.6 share
#: tml's ``Qwen35``. The named constructors are what the library documents for each mode.
TML_RENDERERS: dict[tuple[str, str], tuple[str, str]] = {
    ("qwen3", "thinking"): ("Qwen3", ""),
    ("qwen3", "no_thinking"): ("Qwen3", "disable_thinking"),
    ("Qwen/Qwen3.5-9B", "thinking"): ("Qwen35", ""),
    ("Qwen/Qwen3.5-9B", "no_thinking"): ("Qwen35", "disable_thinking"),
    # tml has no Qwen3.6 class: its Qwen35 is Qwen3.5's template (tool arguments through Jinja's
    # string filter, no preserve_thinking), so Qwen3.6 is not served rather than judged on another
    # template's rules.
    ("gpt-oss", "reasoning_low"): ("GptOss", "low"),
    ("gpt-oss", "reasoning_medium"): ("GptOss", "medium"),
    ("gpt-oss", "reasoning_high"): ("GptOss", "high"),
    ("deepseek-v3", "default"): ("DeepSeekV3", ""),
    ("deepseek-v3.1", "non_thinking"): ("DeepSeekV31", ""),
    ("deepseek-v3.1", "thinking"): ("DeepSeekV31", "thinking"),
    ("nemotron3", "thinking"): ("Nemotron3", ""),
    ("nemotron3", "no_thinking"): ("Nemotron3", "disable_thinking"),
    ("nemotron3", "keep_history_thinking"): ("Nemotron3", "preserve_thinking_history"),
    # tml has no K2.6 class: its KimiK25 is what it offers for both
    ("moonshotai/Kimi-K2-Thinking", "default"): ("KimiK2", ""),
    ("moonshotai/Kimi-K2.5", "thinking"): ("KimiK25", ""),
    ("moonshotai/Kimi-K2.5", "no_thinking"): ("KimiK25", "disable_thinking"),
    ("moonshotai/Kimi-K2.6", "thinking"): ("KimiK25", ""),
    ("moonshotai/Kimi-K2.6", "no_thinking"): ("KimiK25", "disable_thinking"),
    ("moonshotai/Kimi-K2.6", "preserve_thinking"): ("KimiK25", "preserve_thinking_history"),
    # tml's Glm52 has no thinking switch (no_thinking is not served) and there is no GLM-5.1 class
    ("zai-org/GLM-5.2", "thinking"): ("Glm52", ""),
    ("zai-org/GLM-5.2", "reasoning_high"): ("Glm52", "high"),
    ("zai-org/GLM-5.2", "preserve_thinking"): ("Glm52", "preserve_thinking_history"),
}

#: Text whose encoding must agree between a peer's built-in tokenizer and the model's snapshot.
_VOCAB_CANARY = "Hello, world! 你好 1234 \u00e9t\u00e9 <not-special> def f(x):\n\treturn x\n"


def serves(peer: str, entry: ModelEntry, variant: str) -> str | None:
    """None if ``peer`` has a renderer for this model and variant, else why not (one line)."""
    v = entry.variant(variant)
    if peer == "prime":
        cls_name = PRIME_CONFIGS.get(entry.model_id) or PRIME_CONFIGS.get(entry.family)
        if cls_name is None:
            return f"Prime renderers has no renderer for family {entry.family!r}"
        fields = _PRIME_FIELDS.get(cls_name)
        if fields is not None:
            unmapped = sorted(set(v.template_kwargs) - fields)
            if unmapped:
                return f"Prime {cls_name} has no option for variant {v.name!r} ({', '.join(unmapped)})"
        return None
    if peer == "tinker":
        return None if _lookup(TINKER_NAMES, entry, v) else f"tinker-cookbook has no renderer for {entry.model_id} [{v.name}]"
    if peer == "tml":
        return None if _lookup(TML_RENDERERS, entry, v) else f"tml-renderers has no renderer for {entry.model_id} [{v.name}]"
    return f"unknown peer {peer!r}"


def _bare(token: str) -> str:
    """A control token's name without its brackets: ``<|im_end|>`` and ``im_end``,
    ``<｜end▁of▁sentence｜>`` and ``End_of_sentence`` compare equal."""
    for a, b in (("<|", "|>"), ("<｜", "｜>"), ("<", ">"), ("[", "]")):
        if token.startswith(a) and token.endswith(b):
            token = token[len(a):-len(b)]
            break
    return token.replace("\u2581", "_").lower()


def _lookup(table: dict[tuple[str, str], Any], entry: ModelEntry, v: Variant) -> Any:
    """A peer's entry for (model id, variant), else for (family, variant)."""
    return table.get((entry.model_id, v.name)) or table.get((entry.family, v.name))


# Option names of Prime's config classes (renderers 0.1.12), so a plan can say what is not served
# without importing the library; the factory re-checks against the installed version.
_PRIME_FIELDS: dict[str, set[str]] = {
    "Qwen3RendererConfig": {"thinking_retention", "name", "enable_thinking"},
    "Qwen35RendererConfig": {"thinking_retention", "name", "enable_thinking", "add_vision_id", "image_cache_max"},
    "Qwen36RendererConfig": {"thinking_retention", "name", "enable_thinking", "add_vision_id", "preserve_thinking", "image_cache_max"},
    "DeepSeekV3RendererConfig": {"thinking_retention", "name"},
    "Nemotron3RendererConfig": {"thinking_retention", "name", "enable_thinking", "truncate_history_thinking", "low_effort"},
    "GptOssRendererConfig": {"thinking_retention", "name", "reasoning_effort", "conversation_start_date", "use_system_prompt",
                             "knowledge_cutoff", "model_identity", "auto_drop_analysis"},
    "Llama3RendererConfig": {"thinking_retention", "name", "date_string", "tools_in_user_message"},
    "KimiK2RendererConfig": {"thinking_retention", "name", "enable_thinking"},
    "KimiK25RendererConfig": {"thinking_retention", "name", "thinking", "image_cache_max"},
    "GLM51RendererConfig": {"thinking_retention", "name", "enable_thinking", "clear_thinking"},
}

#: peer name -> ``--renderer`` spec
PEERS = {"prime": "conformance.peers:prime", "tinker": "conformance.peers:tinker", "tml": "conformance.peers:tml"}


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
    cls_name = PRIME_CONFIGS.get(entry.model_id) or PRIME_CONFIGS.get(entry.family)
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
    """tinker-cookbook's ``get_renderer(name, tokenizer)`` for this model and variant. A renderer
    that writes today's date (gpt-oss: ``current_date``, which it documents as the override for
    deterministic prompts) gets the registry's pinned date, as the oracle does."""
    entry, v = _resolve(model_id, variant)
    name = _lookup(TINKER_NAMES, entry, v)
    if name is None:
        known = ", ".join(f"{f}/{n}" for f, n in TINKER_NAMES)
        raise PeerMismatchError(f"tinker-cookbook: no renderer for {entry.family}/{v.name} ({entry.model_id}); known: {known}")
    from tinker_cookbook.renderers import get_renderer  # the peer library

    r = get_renderer(name, tokenizer)
    if hasattr(r, "current_date"):
        r.current_date = entry.pinned_date
    return r


def tml(tokenizer: Any, model_id: str | None = None, variant: str | None = None) -> Any:
    """tml-renderers' class for this model and variant. Its tokenizer is built in, so the factory
    first proves it encodes like the snapshot (a canary text and every end-of-turn token); a
    mismatch is a :class:`PeerMismatchError`, not a wall of parity failures."""
    entry, v = _resolve(model_id, variant)
    spec = _lookup(TML_RENDERERS, entry, v)
    if spec is None:
        known = ", ".join(f"{f}/{n}" for f, n in TML_RENDERERS)
        raise PeerMismatchError(f"tml-renderers: no renderer for {entry.family}/{v.name} ({entry.model_id}); known: {known}")
    from tml_renderers import renderers as T  # the peer library

    cls_name, how = spec
    cls = getattr(T, cls_name)
    kwargs: dict[str, Any] = {"current_date": entry.pinned_date} if entry.family == "gpt-oss" else {}
    if "=" in how:  # a constructor keyword
        key, _, value = how.partition("=")
        r = cls(**{key: value == "True"}, **kwargs)
    else:
        r = getattr(cls, how)(**kwargs) if how else cls(**kwargs)
    if tokenizer is not None:
        ours = list(tokenizer.encode(_VOCAB_CANARY, add_special_tokens=False))
        theirs = [int(i) for i in r.tokenizer.encode_ordinary(_VOCAB_CANARY)]
        bad_specials = []
        for t in entry.end_of_turn:
            # decode_special gives the built-in vocabulary's bare name for a control id ("im_end").
            try:
                name = r.tokenizer.decode_special(int(tokenizer.convert_tokens_to_ids(t)))
            except Exception:  # noqa: BLE001 - an id the built-in vocabulary lacks
                name = None
            if not name or _bare(name) != _bare(t):
                bad_specials.append(t)
        if ours != theirs or bad_specials:
            raise PeerMismatchError(
                f"tml-renderers {cls_name}: its built-in tokenizer does not encode like the {entry.model_id} snapshot"
                + (f" (end-of-turn tokens {bad_specials})" if bad_specials else " (canary text)")
            )
    return r


def construction_source(peer: str, model_id: str, variant: str) -> str:
    """Python source that builds ``renderer`` with the library alone, exactly as the factory above
    does (given ``tok``, the model's ``transformers`` tokenizer): what a finding's reproduction
    script runs. Raises :class:`PeerMismatchError` where the peer does not serve the pair."""
    entry, v = _resolve(model_id, variant)
    why = serves(peer, entry, v.name)
    if why:
        raise PeerMismatchError(why)
    if peer == "prime":
        cls_name = PRIME_CONFIGS.get(entry.model_id) or PRIME_CONFIGS.get(entry.family)
        kwargs = dict(v.template_kwargs)
        if "conversation_start_date" in _PRIME_FIELDS.get(str(cls_name), set()):
            kwargs["conversation_start_date"] = entry.pinned_date
        return f"import renderers as R\n\nrenderer = R.create_renderer(tok, R.{cls_name}(**{kwargs!r}))\n"
    if peer == "tinker":
        name = _lookup(TINKER_NAMES, entry, v)
        date = (f"if hasattr(renderer, 'current_date'):  # the date the goldens pin (the renderer would write today's)\n"
                f"    renderer.current_date = {entry.pinned_date!r}\n")
        return f"from tinker_cookbook.renderers import get_renderer\n\nrenderer = get_renderer({name!r}, tok)\n{date}"
    cls_name, how = _lookup(TML_RENDERERS, entry, v)
    kwargs_src = f"current_date={entry.pinned_date!r}" if entry.family == "gpt-oss" else ""
    if "=" in how:
        key, _, value = how.partition("=")
        ctor = f"T.{cls_name}({key}={value == 'True'}{', ' + kwargs_src if kwargs_src else ''})"
    else:
        ctor = f"T.{cls_name}.{how}({kwargs_src})" if how else f"T.{cls_name}({kwargs_src})"
    return f"from tml_renderers import renderers as T\n\nrenderer = {ctor}  # its tokenizer is built in\n"
