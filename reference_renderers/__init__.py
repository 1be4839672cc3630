"""Reference renderers: our own implementations, which must pass the whole conformance suite.

    >>> from reference_renderers import get_renderer
    >>> r = get_renderer("Qwen/Qwen3-8B")            # hand-written, variant "thinking"
    >>> r = get_renderer("qwen3", variant="no_thinking")

``get_renderer(name_or_model_id, tokenizer=None, *, variant=None)`` accepts a registered renderer
name (a family) or a model id (dispatching on its family, falling back to ``TemplateRenderer``).

Each family is one module of this package whose class registers itself
(:mod:`reference_renderers.families`); every class is importable from here by its name
(``reference_renderers:Qwen3Renderer`` as a ``--renderer`` spec), and ``HAND_WRITTEN`` maps each
family to its class's name. Nothing here lists the families.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reference_renderers.families import FAMILIES, load_all
from reference_renderers.template import TemplateRenderer

__all__ = ["HAND_WRITTEN", "get_renderer", "register_renderer", "renderer_names", "TemplateRenderer"]

load_all()



class _HandWritten(Mapping[str, str]):
    """family -> the name of the hand-written renderer class that serves it
    (``reference_renderers:<name>``), read from the registered families as they are now."""

    def __getitem__(self, family: str) -> str:
        return str(FAMILIES[family].__name__)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(FAMILIES))

    def __len__(self) -> int:
        return len(FAMILIES)

    def __repr__(self) -> str:
        return repr(dict(self))


HAND_WRITTEN: Mapping[str, str] = _HandWritten()
__all__ += sorted(HAND_WRITTEN.values())

#: names registered by hand (aliases, a user's factory) on top of the families
_FACTORIES: dict[str, Callable[..., Any]] = {}


def __getattr__(name: str) -> Any:
    # Every family's class by its name (Qwen3Renderer, Glm5Renderer, ...), however many there are.
    for cls in FAMILIES.values():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module 'reference_renderers' has no attribute {name!r}")


def register_renderer(name: str, factory: Callable[..., Any]) -> None:
    """Register ``factory(tokenizer, *, model_id, variant)`` under ``name`` (an alias, or a
    renderer outside this package)."""
    _FACTORIES[name] = factory


def _factories() -> dict[str, Callable[..., Any]]:
    return {**FAMILIES, **_FACTORIES}


def renderer_names() -> list[str]:
    return sorted(_factories())


def get_renderer(name_or_model_id: str, tokenizer: Any = None, *, variant: str | None = None) -> Any:
    from conformance.errors import UnknownModelError
    from conformance.fixtures.registry import load_registry

    reg = load_registry()
    factories = _factories()
    if name_or_model_id in reg:
        entry = reg[name_or_model_id]
        factory = factories.get(entry.family, TemplateRenderer)
        return factory(tokenizer, model_id=entry.model_id, variant=variant)
    if name_or_model_id in factories:
        model_id = getattr(factories[name_or_model_id], "default_model", "")
        if not model_id:
            raise UnknownModelError(f"renderer {name_or_model_id!r} needs a model id")
        return factories[name_or_model_id](tokenizer, model_id=model_id, variant=variant)
    raise UnknownModelError(
        f"unknown renderer or model {name_or_model_id!r}; renderers: {', '.join(renderer_names())}; model ids: {', '.join(reg)}"
    )
