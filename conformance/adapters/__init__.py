"""Adapters: map the renderer API styles in the field onto :class:`conformance.protocol.Renderer`.

``adapt(obj, style="auto")`` detects the style from the object's methods:

* ``native``: our protocol (``render``, ``build_generation_prompt``, ``stop_token_ids``, ``capabilities``);
* ``tinker``: tinker-cookbook (``build_generation_prompt``, ``build_supervised_example``,
  ``get_stop_sequences``, ``parse_response`` -> (message, termination));
* ``prime``: Prime Intellect ``renderers`` (``render_ids``, ``get_stop_token_ids``,
  ``bridge_to_next_turn``);
* ``tml``: tml-renderers (``render_for_completion``, ``render_for_sft``, ``stop``).
"""

from __future__ import annotations

from typing import Any

from conformance.adapters.native import NativeAdapter
from conformance.adapters.prime import PrimeAdapter
from conformance.adapters.tinker import TinkerAdapter
from conformance.adapters.tml import TmlAdapter

__all__ = ["adapt", "detect_style", "STYLES"]

STYLES = {"native": NativeAdapter, "tinker": TinkerAdapter, "prime": PrimeAdapter, "tml": TmlAdapter}


def detect_style(obj: Any) -> str | None:
    has = lambda *names: all(callable(getattr(obj, n, None)) for n in names)  # noqa: E731
    if has("render", "build_generation_prompt", "stop_token_ids", "parse_response") and hasattr(obj, "capabilities"):
        return "native"
    if has("render_ids", "get_stop_token_ids"):
        return "prime"
    if has("build_generation_prompt", "build_supervised_example", "get_stop_sequences"):
        return "tinker"
    if has("render_for_completion", "render_for_sft", "stop"):
        return "tml"
    return None


def adapt(obj: Any, style: str = "auto", *, tokenizer: Any = None) -> Any:
    if style in (None, "", "auto"):
        style = detect_style(obj) or ""
        if not style:
            raise TypeError(
                f"{type(obj).__name__} matches no known renderer API style (native, tinker, prime, tml); "
                "it needs e.g. render/build_generation_prompt/stop_token_ids/parse_response + capabilities"
            )
    if style not in STYLES:
        raise TypeError(f"unknown adapter style {style!r}; known: {', '.join(STYLES)}")
    return STYLES[style](obj, tokenizer=tokenizer)
