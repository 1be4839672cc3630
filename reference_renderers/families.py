"""The families the hand-written reference renderers serve: one place, filled by the renderers.

A family is one module in this package: its class sets ``family`` (the registry's family name,
``fixtures/models.toml``), ``parser`` (how a completion of that family parses, from
:mod:`reference_renderers.parsers`) and ``default_model`` (what ``get_renderer("<family>")``
builds), and subclassing :class:`~reference_renderers.base.PieceRenderer` registers it. Every
module of the package is imported by :func:`load_all`, so adding a family touches no table:
``get_renderer``, ``HAND_WRITTEN``, the parser map, the parity report's plan and the
certification tests all read :data:`FAMILIES`.

A class defined outside this package (a mutant in ``tests/``, a user's subclass) registers only
when it asks to (``class Toy(PieceRenderer, register=True)``): a subclass of ``Qwen3Renderer``
that plants a bug must never replace the family's renderer.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

__all__ = ["FAMILIES", "register", "load_all", "parser_for", "family_class"]

#: family -> the hand-written renderer class that serves it
FAMILIES: dict[str, type] = {}


def register(cls: type) -> None:
    """Make ``cls`` the renderer of ``cls.family``; a second class for one family is a mistake
    (two modules claiming it), refused with both names."""
    family = getattr(cls, "family", "")
    if not family:
        raise ValueError(f"{cls.__qualname__} registers no family: set the class attribute 'family'")
    if not callable(getattr(cls, "parser", None)):
        raise ValueError(f"{cls.__qualname__} ({family}) sets no 'parser' (a function from reference_renderers.parsers)")
    if not getattr(cls, "default_model", ""):
        raise ValueError(f"{cls.__qualname__} ({family}) sets no 'default_model' (a model id of that family)")
    old = FAMILIES.get(family)
    if old is not None and old is not cls and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"family {family!r} is served by {old.__module__}.{old.__qualname__} already, "
                         f"not also by {cls.__module__}.{cls.__qualname__}")
    FAMILIES[family] = cls


_loaded = False


def load_all() -> dict[str, type]:
    """Import every module of this package once (each family registers itself); the registered
    families. Cheap after the first call: ``parse_with`` asks for a parser on every parse."""
    global _loaded
    if not _loaded:
        import reference_renderers

        for info in pkgutil.iter_modules(reference_renderers.__path__):
            importlib.import_module(f"reference_renderers.{info.name}")
        _loaded = True
    return FAMILIES


def family_class(family: str) -> type | None:
    return load_all().get(family)


def parser_for(family: str) -> Callable[..., Any] | None:
    """The parse function of ``family`` (None: the family has no hand-written renderer)."""
    cls = family_class(family)
    return None if cls is None else getattr(cls, "parser")  # noqa: B009 - a staticmethod read off the class
