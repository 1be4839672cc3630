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

**A peer is one record** (:class:`Peer` in :data:`PEERS`): its name (the report's implementation
and the ``conformance.peers:<name>`` spec), the library and distribution, the adapter style, the
packages of its own environment (none: the main one), its table of what it serves (our model id
or family, and variant, to the library's own name for that renderer), and how the library builds
a renderer and how a reproduction script builds it. The factory, :func:`serves`, the report's
plan and environments and ``noxfile.py`` read the records; adding a peer touches nothing else
(a library with a new API style also brings its adapter module, :mod:`conformance.adapters`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.errors import ConformanceError
from conformance.fixtures.registry import ModelEntry, Variant, get_model

__all__ = ["Peer", "PEERS", "register_peer", "construction_source", "PeerMismatchError", "PRIME_CONFIGS", "TINKER_NAMES",
           "TML_RENDERERS", "serves"]  # and, by name, each peer's factory (prime, tinker, tml)


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
    # Prime has GLM-5, GLM-5.1 and GLM-5.3 renderers, none for GLM-5.2
    "zai-org/GLM-5": "GLM5RendererConfig",
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

def _bare(token: str) -> str:
    """A control token's name without its brackets: ``<|im_end|>`` and ``im_end``,
    ``<｜end▁of▁sentence｜>`` and ``End_of_sentence`` compare equal."""
    for a, b in (("<|", "|>"), ("<｜", "｜>"), ("<", ">"), ("[", "]")):
        if token.startswith(a) and token.endswith(b):
            token = token[len(a):-len(b)]
            break
    return token.replace("\u2581", "_").lower()


def _lookup(table: Mapping[Any, Any], entry: ModelEntry, v: Variant) -> Any:
    """A peer's entry for (model id, variant), else (family, variant), else the model id, else
    the family (tables that name one renderer for every variant)."""
    for key in ((entry.model_id, v.name), (entry.family, v.name), entry.model_id, entry.family):
        if key in table:
            return table[key]
    return None


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
    "GLM5RendererConfig": {"thinking_retention", "name", "enable_thinking", "clear_thinking"},
    "GLM51RendererConfig": {"thinking_retention", "name", "enable_thinking", "clear_thinking"},
}


@dataclass(frozen=True)
class Peer:
    """One renderer library the report judges: everything the factory, the plan, the report's
    environments and ``noxfile.py`` need to know about it."""

    name: str  # the report's implementation name; ``conformance.peers:<name>`` builds it
    title: str  # how the report names it
    library: str  # the module it is imported as
    distribution: str  # the PyPI distribution whose version the report records
    style: str  # the adapter style its renderers have (conformance.adapters)
    #: our model id or family, with or without our variant -> the library's own name for it
    #: (see :func:`_lookup`); a pair missing here is not served
    table: Mapping[Any, Any]
    #: (tokenizer, entry, variant, the table's value) -> the library's renderer
    build: Callable[[Any, ModelEntry, Variant, Any], Any]
    #: (entry, variant, the table's value) -> Python source that builds ``renderer`` from ``tok``
    #: with the library alone (what a finding's reproduction script runs)
    source: Callable[[ModelEntry, Variant, Any], str]
    #: the packages of its own environment (empty: it runs in the main one)
    install: tuple[str, ...] = ()
    #: (entry, variant, the table's value) -> why it cannot serve this variant, or None
    check: Callable[[ModelEntry, Variant, Any], str | None] | None = None
    notes: str = field(default="", compare=False)  # what it does not serve, and why

    @property
    def spec(self) -> str:
        return f"conformance.peers:{self.name}"

    @property
    def env(self) -> str:
        """The environment it runs in: ``main`` or its own (named after it)."""
        return self.name if self.install else "main"

    def serves(self, entry: ModelEntry, variant: str) -> str | None:
        """None if the library has a renderer for this model and variant, else why not (one line)."""
        v = entry.variant(variant)
        value = _lookup(self.table, entry, v)
        if value is None:
            return f"{self.title} has no renderer for {entry.model_id} [{v.name}] (family {entry.family!r})"
        return self.check(entry, v, value) if self.check else None

    def factory(self, tokenizer: Any, model_id: str | None = None, variant: str | None = None) -> Any:
        """The library's renderer for this model and variant (a ``--renderer`` factory)."""
        entry, v = _resolve(model_id, variant)
        why = self.serves(entry, v.name)
        if why:
            known = ", ".join(k if isinstance(k, str) else "/".join(k) for k in self.table)
            raise PeerMismatchError(f"{why}; known: {known}")
        return self.build(tokenizer, entry, v, _lookup(self.table, entry, v))


def _resolve(model_id: str | None, variant: str | None) -> tuple[ModelEntry, Variant]:
    if not model_id:
        raise PeerMismatchError("peer factories need the model id (pass --model)")
    entry = get_model(model_id)
    return entry, entry.variant(variant or next(iter(entry.variants)))


# ---- Prime Intellect renderers: create_renderer(tokenizer, <Family>RendererConfig(**options)) ----
def _prime_kwargs(entry: ModelEntry, v: Variant, fields: set[str]) -> dict[str, Any]:
    kwargs = {k: val for k, val in v.template_kwargs.items() if k in fields}
    if "conversation_start_date" in fields:
        kwargs["conversation_start_date"] = entry.pinned_date
    return kwargs


def _prime_check(entry: ModelEntry, v: Variant, cls_name: str) -> str | None:
    fields = _PRIME_FIELDS.get(cls_name)
    unmapped = sorted(set(v.template_kwargs) - fields) if fields is not None else []
    return f"Prime {cls_name} has no option for variant {v.name!r} ({', '.join(unmapped)})" if unmapped else None


def _prime_build(tokenizer: Any, entry: ModelEntry, v: Variant, cls_name: str) -> Any:
    """The variant's template kwargs become config fields of the same name; gpt-oss also gets
    the registry's pinned date."""
    if entry.family == "gpt-oss":
        # Prime renders gpt-oss through openai-harmony, which must find o200k offline.
        from conformance.oracle.harmony import load_encoding

        load_encoding(str(entry.root / "vocab"))
    import renderers as R  # the peer library

    cfg_cls = getattr(R, cls_name)
    fields = set(getattr(cfg_cls, "model_fields", {}))
    unmapped = sorted(set(v.template_kwargs) - fields)
    if unmapped:
        raise PeerMismatchError(f"Prime {cls_name} has no option for variant {v.name!r} ({', '.join(unmapped)})")
    r = R.create_renderer(tokenizer, cfg_cls(**_prime_kwargs(entry, v, fields)))
    if entry.vision == "qwen-vl":
        # Its documented way to render images: the renderer's constructor takes the model's
        # processor (here transformers' own, of the vendored config: conformance.oracle.vision).
        from conformance.oracle.vision import qwen_vl_processor

        r = type(r)(tokenizer, r.config, processor=qwen_vl_processor(entry.snapshot().path, tokenizer))
    return r


def _prime_source(entry: ModelEntry, v: Variant, cls_name: str) -> str:
    # Every template kwarg (the factory refuses a variant the config cannot express), and the
    # pinned date where the config has that field.
    kwargs = _prime_kwargs(entry, v, _PRIME_FIELDS.get(cls_name, set()) | set(v.template_kwargs))
    source = f"import renderers as R\n\nrenderer = R.create_renderer(tok, R.{cls_name}(**{kwargs!r}))\n"
    if entry.vision == "qwen-vl":  # images through the model's processor (AutoProcessor needs torchvision)
        source += ("from transformers import AutoProcessor\n\n"
                   "renderer = type(renderer)(tok, renderer.config, processor=AutoProcessor.from_pretrained(tok.name_or_path))\n")
    return source


# ---- tinker-cookbook: get_renderer(name, tokenizer) ----------------------------------------------
def _tinker_build(tokenizer: Any, entry: ModelEntry, v: Variant, name: str) -> Any:
    """A renderer that writes today's date (gpt-oss: ``current_date``, which it documents as the
    override for deterministic prompts) gets the registry's pinned date, as the oracle does."""
    from tinker_cookbook.renderers import get_renderer  # the peer library

    r = get_renderer(name, tokenizer, _tinker_image_processor(entry))
    if hasattr(r, "current_date"):
        r.current_date = entry.pinned_date
    return r


def _tinker_image_processor(entry: ModelEntry) -> Any:
    """For a model the registry gives an image processor (``vision``): transformers' PIL image
    processor of the snapshot's ``preprocessor_config.json`` (tinker-cookbook's own
    ``get_image_processor`` loads it from the hub by name, and its config names a backend that
    needs torchvision); the image grid is the same ``smart_resize`` in both. None otherwise."""
    if entry.vision != "qwen-vl":
        return None
    from conformance.oracle.vision import qwen_vl_image_processor

    return qwen_vl_image_processor(entry.snapshot().path)


def _tinker_source(entry: ModelEntry, v: Variant, name: str) -> str:
    date = (f"if hasattr(renderer, 'current_date'):  # the date the goldens pin (the renderer would write today's)\n"
            f"    renderer.current_date = {entry.pinned_date!r}\n")
    if entry.vision == "qwen-vl":
        return ("from tinker_cookbook.renderers import get_renderer\n"
                "from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil\n\n"
                "images = Qwen2VLImageProcessorPil.from_pretrained(tok.name_or_path)  # the model's folder\n"
                f"renderer = get_renderer({name!r}, tok, images)\n{date}")
    return f"from tinker_cookbook.renderers import get_renderer\n\nrenderer = get_renderer({name!r}, tok)\n{date}"


# ---- tml-renderers: its class, by a named constructor; its tokenizer is built in ------------------
#: Text whose encoding must agree between a peer's built-in tokenizer and the model's snapshot.
_VOCAB_CANARY = "Hello, world! 你好 1234 \u00e9t\u00e9 <not-special> def f(x):\n\treturn x\n"


def _tml_build(tokenizer: Any, entry: ModelEntry, v: Variant, spec: tuple[str, str]) -> Any:
    """Its tokenizer is built in, so this first proves it encodes like the snapshot (a canary text
    and every end-of-turn token); a mismatch is a :class:`PeerMismatchError`, not a wall of
    parity failures."""
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


def _tml_source(entry: ModelEntry, v: Variant, spec: tuple[str, str]) -> str:
    cls_name, how = spec
    kwargs_src = f"current_date={entry.pinned_date!r}" if entry.family == "gpt-oss" else ""
    if "=" in how:
        key, _, value = how.partition("=")
        ctor = f"T.{cls_name}({key}={value == 'True'}{', ' + kwargs_src if kwargs_src else ''})"
    else:
        ctor = f"T.{cls_name}.{how}({kwargs_src})" if how else f"T.{cls_name}({kwargs_src})"
    return f"from tml_renderers import renderers as T\n\nrenderer = {ctor}  # its tokenizer is built in\n"


#: peer name -> its record
PEERS: dict[str, Peer] = {}


def register_peer(peer: Peer) -> Peer:
    """Add ``peer`` (its name must be new): the report plans it, ``conformance.peers:<name>``
    builds it."""
    if peer.name in PEERS or peer.name == "reference":
        raise ValueError(f"a peer named {peer.name!r} exists already")
    PEERS[peer.name] = peer
    return peer


register_peer(Peer(
    "prime", "Prime Intellect renderers", library="renderers", distribution="renderers", style="prime",
    table=PRIME_CONFIGS, build=_prime_build, source=_prime_source, check=_prime_check,
    notes="GLM-5.2: no renderer (GLM-5, 5.1 and 5.3 only)"))
register_peer(Peer(
    "tinker", "tinker-cookbook", library="tinker_cookbook", distribution="tinker-cookbook", style="tinker",
    table=TINKER_NAMES, build=_tinker_build, source=_tinker_source, install=("tinker-cookbook", "torch==2.13.0"),
    notes="GLM: GLM-5.3 renderers only"))
register_peer(Peer(
    "tml", "tml-renderers", library="tml_renderers", distribution="tml-renderers", style="tml",
    table=TML_RENDERERS, build=_tml_build, source=_tml_source, install=("tml-renderers", "torch==2.13.0"),
    notes="no Qwen3.6 or GLM-5.1 class; GLM-5.2 has no thinking switch"))


def serves(peer: str, entry: ModelEntry, variant: str) -> str | None:
    """None if ``peer`` has a renderer for this model and variant, else why not (one line)."""
    if peer not in PEERS:
        return f"unknown peer {peer!r}"
    return PEERS[peer].serves(entry, variant)


def construction_source(peer: str, model_id: str, variant: str) -> str:
    """Python source that builds ``renderer`` with the library alone, exactly as the factory
    does (given ``tok``, the model's ``transformers`` tokenizer): what a finding's reproduction
    script runs. Raises :class:`PeerMismatchError` where the peer does not serve the pair."""
    entry, v = _resolve(model_id, variant)
    why = serves(peer, entry, v.name)
    if why:
        raise PeerMismatchError(why)
    record = PEERS[peer]
    return record.source(entry, v, _lookup(record.table, entry, v))


def __getattr__(name: str) -> Any:
    # ``conformance.peers:<name>``: every registered peer's factory, by its name.
    if name in PEERS:
        return PEERS[name].factory
    raise AttributeError(f"module 'conformance.peers' has no attribute {name!r}")
