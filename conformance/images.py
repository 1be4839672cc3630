"""Images in user messages: content parts, and deterministic synthetic images.

A conversation with images gives a user message a list of parts instead of a string:
``{"type": "text", "text": ...}`` and ``{"type": "image", ...}`` (the OpenAI-style parts the Qwen-VL
templates read; tinker-cookbook's ``TextPart`` / ``ImagePart``). Where an image part comes from:

* a case (JSON) writes ``{"type": "image", "synthetic": {"width", "height", "seed"}}``: the image
  is :func:`synthesize`'d from those three numbers, the same pixels on every machine;
* a renderer receives ``{"type": "image", "image": <PIL.Image.Image>}`` (:func:`for_renderer`),
  as tinker-cookbook's ``ImagePart`` carries it; the suite never hands a renderer the spec.

Only the size of an image changes the ids (how many placeholder tokens the processor expands it
to); the pixels are synthesized anyway, so a renderer that reads them gets a real picture.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeGuard

from conformance.errors import InvalidMessagesError

__all__ = ["is_parts", "image_specs", "synthesize", "for_renderer", "validate_parts", "placeholder_spans"]


def is_parts(content: Any) -> TypeGuard[list[Any]]:
    """Whether a message's content is a list of parts (else a string, or None)."""
    return isinstance(content, list)


def validate_parts(parts: list[Any], *, where: str) -> None:
    """Raise :class:`InvalidMessagesError` naming the part: each is a dict, ``text`` with a string,
    or ``image`` with a PIL image (``image``) or a spec (``synthetic``: positive ``width`` and
    ``height``, integer ``seed``)."""
    if not parts:
        raise InvalidMessagesError(f"{where}: content is an empty list of parts")
    for j, p in enumerate(parts):
        pw = f"{where} content[{j}]"
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "text":
            if not isinstance(p.get("text"), str):
                raise InvalidMessagesError(f"{pw} (text): needs text (a string)")
        elif kind == "image":
            if "image" in p:
                size = getattr(p["image"], "size", None)
                if not (isinstance(size, tuple) and len(size) == 2):
                    raise InvalidMessagesError(f"{pw} (image): image must be a PIL image, got {type(p['image']).__name__}")
            else:
                spec = p.get("synthetic")
                ok = isinstance(spec, dict) and all(isinstance(spec.get(k), int) for k in ("width", "height", "seed"))
                if not ok or spec["width"] < 1 or spec["height"] < 1:
                    raise InvalidMessagesError(f"{pw} (image): needs image (a PIL image) or synthetic "
                                               "{width, height, seed} (positive integers)")
        else:
            raise InvalidMessagesError(f"{pw}: part type must be 'text' or 'image', got {kind!r}")


def image_specs(messages: Sequence[dict[str, Any]]) -> Iterator[tuple[int, int, dict[str, int]]]:
    """``(message index, part index, synthetic spec)`` of every case image, in render order."""
    for i, m in enumerate(messages):
        content = m.get("content")
        if is_parts(content):
            for j, p in enumerate(content):
                if p.get("type") == "image":
                    yield i, j, p["synthetic"]


def synthesize(spec: dict[str, int]) -> Any:
    """The RGB image a spec names: a smooth gradient with seeded stripes, the same bytes everywhere."""
    import numpy as np
    from PIL import Image

    w, h, seed = spec["width"], spec["height"], spec["seed"]
    y, x = np.mgrid[0:h, 0:w]
    channels = [(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y + 37 * seed) % 64) * 4]
    return Image.fromarray(np.stack(channels, axis=-1).astype("uint8"), mode="RGB")


def for_renderer(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as a renderer receives them: every image spec replaced by its PIL image."""
    out = []
    for m in messages:
        content = m.get("content")
        if is_parts(content):
            m = {**m, "content": [{"type": "image", "image": synthesize(p["synthetic"])}
                                  if p.get("type") == "image" else dict(p) for p in content]}
        out.append(m)
    return out


def placeholder_spans(ids: Sequence[int], start_id: int, end_id: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each image's tokens in ``ids``: ``start_id`` (``<|vision_start|>``)
    through the ``end_id`` (``<|vision_end|>``) that closes it."""
    out, opened = [], None
    for t, i in enumerate(ids):
        if i == start_id:
            opened = t
        elif i == end_id and opened is not None:
            out.append((opened, t + 1))
            opened = None
    return out
