"""Adapters: map the renderer API styles in the field onto :class:`conformance.protocol.Renderer`.

``adapt(obj, style="auto")`` detects the style from the object's methods:

* ``native``: our protocol (``render``, ``build_generation_prompt``, ``stop_token_ids``, ``capabilities``);
* ``tinker``: tinker-cookbook (``build_generation_prompt``, ``build_supervised_example``,
  ``get_stop_sequences``, ``parse_response`` -> (message, termination));
* ``prime``: Prime Intellect ``renderers`` (``render_ids``, ``get_stop_token_ids``,
  ``bridge_to_next_turn``);
* ``tml``: tml-renderers (``render_for_completion``, ``render_for_sft``, ``stop``).

A style is one module of this package: its adapter class sets ``style``, ``detect_order`` and
``detects(obj)``, and is found here by those; nothing lists the styles.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

__all__ = ["adapt", "detect_style", "STYLES"]


def _styles() -> dict[str, Any]:
    """style -> adapter class, in detection order, from every module of this package."""
    found: list[Any] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            adapter = isinstance(getattr(cls, "style", None), str) and callable(getattr(cls, "detects", None))
            if adapter and cls.__module__ == module.__name__:
                found.append(cls)
    return {cls.style: cls for cls in sorted(found, key=lambda c: (c.detect_order, c.style))}


STYLES = _styles()


def detect_style(obj: Any) -> str | None:
    return next((style for style, cls in STYLES.items() if cls.detects(obj)), None)


def adapt(obj: Any, style: str = "auto", *, tokenizer: Any = None) -> Any:
    if style in (None, "", "auto"):
        style = detect_style(obj) or ""
        if not style:
            raise TypeError(
                f"{type(obj).__name__} matches no known renderer API style ({', '.join(STYLES)}); "
                "it needs e.g. render/build_generation_prompt/stop_token_ids/parse_response + capabilities"
            )
    if style not in STYLES:
        raise TypeError(f"unknown adapter style {style!r}; known: {', '.join(STYLES)}")
    return STYLES[style](obj, tokenizer=tokenizer)
