"""Images for the hand-written Qwen-VL renderers (Qwen3.5, Qwen3.6): how many placeholder tokens an
image becomes, and user content parts as pieces.

Written from the image processor's documented behaviour and the snapshot's
``preprocessor_config.json`` (never by calling transformers, which derives the goldens): the image
is resized so that both sides are multiples of ``patch_size * merge_size`` (rounded to the nearest,
then scaled down or up to stay within the configured pixel counts, keeping the aspect ratio), and
each merged patch of the resized image is one ``<|image_pad|>``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.errors import InvalidMessagesError

__all__ = ["ImageGrid", "content_segments", "plain_text", "trim_segments"]

START, PAD, END = "<|vision_start|>", "<|image_pad|>", "<|vision_end|>"
# The template's placeholder for one image, before the processor repeats the pad.
PLACEHOLDER = START + PAD + END


@dataclass(frozen=True)
class ImageGrid:
    """A snapshot's image geometry: ``patch_size`` pixels per patch side, ``merge_size`` patches per
    merged-patch side, and the pixel-count bounds (``size.shortest_edge`` / ``size.longest_edge``
    in the config: Qwen's names for the minimum and maximum pixel counts)."""

    patch_size: int
    merge_size: int
    min_pixels: int
    max_pixels: int

    @classmethod
    def from_snapshot(cls, path: Path) -> ImageGrid:
        cfg = json.loads((path / "preprocessor_config.json").read_text(encoding="utf-8"))
        size = cfg.get("size") or {}
        return cls(int(cfg["patch_size"]), int(cfg["merge_size"]), int(size["shortest_edge"]), int(size["longest_edge"]))

    def resized(self, width: int, height: int, *, where: str) -> tuple[int, int]:
        """``(width, height)`` after resizing: multiples of one merged patch, within the pixel bounds."""
        factor = self.patch_size * self.merge_size
        if max(width, height) / min(width, height) > 200:
            # The processor refuses such images; so does this renderer, by name.
            raise InvalidMessagesError(f"{where} (image): aspect ratio of {width}x{height} is over 200, which the "
                                       "image processor refuses")
        h, w = round(height / factor) * factor, round(width / factor) * factor
        if h * w > self.max_pixels:
            beta = math.sqrt(height * width / self.max_pixels)
            h = max(factor, math.floor(height / beta / factor) * factor)
            w = max(factor, math.floor(width / beta / factor) * factor)
        elif h * w < self.min_pixels:
            beta = math.sqrt(self.min_pixels / (height * width))
            h = math.ceil(height * beta / factor) * factor
            w = math.ceil(width * beta / factor) * factor
        return w, h

    def pads(self, image: Any, *, where: str) -> int:
        """How many ``<|image_pad|>`` tokens a PIL image (``size`` = width, height) becomes."""
        w, h = self.resized(*image.size, where=where)
        factor = self.patch_size * self.merge_size
        return (w // factor) * (h // factor)


def content_segments(content: Any, grid: ImageGrid | None, *, where: str) -> list[tuple[str, str]]:
    """A message's content as ``("c", text)`` and ``("s", placeholder)`` segments, trimmed as the
    template trims the joined text (``render_content(...)|trim``); a string is one text segment."""
    if not isinstance(content, list):
        return trim_segments([("c", content if isinstance(content, str) else "")])
    out: list[tuple[str, str]] = []
    for j, part in enumerate(content):
        if part["type"] == "text":
            out.append(("c", part["text"]))
        elif grid is None:
            raise InvalidMessagesError(f"{where} content[{j}]: this model takes no images")
        else:
            out.append(("s", START + PAD * grid.pads(part["image"], where=f"{where} content[{j}]") + END))
    return trim_segments(out)


def trim_segments(segments: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Leading and trailing whitespace removed from the text around the segments, as ``str.strip``
    on the joined text would (a placeholder is not whitespace, so trimming stops at one)."""
    out = list(segments)
    for order in (range(len(out)), range(len(out) - 1, -1, -1)):
        for k in order:
            kind, text = out[k]
            if kind != "c":
                break
            stripped = text.lstrip() if order.step == 1 else text.rstrip()
            out[k] = (kind, stripped)
            if stripped:
                break
    return [seg for seg in out if seg[1]]


def plain_text(segments: list[tuple[str, str]]) -> str:
    """The joined text with each image as the template's one-pad placeholder (what the template
    compares, e.g. to find the last user query)."""
    return "".join(PLACEHOLDER if kind == "s" else text for kind, text in segments)
