"""The oracle for images: transformers' own image processor and processor, on the snapshot's
``preprocessor_config.json``.

For ``vision = "qwen-vl"`` (Qwen3.5/3.6): the template writes each image as
``<|vision_start|><|image_pad|><|vision_end|>``; ``Qwen3VLProcessor`` resizes the image
(``smart_resize``: both sides a multiple of ``patch_size * merge_size``, the pixel count within the
config's bounds) and repeats ``<|image_pad|>`` once per merged patch: ``t * h * w / merge_size**2``
of its ``image_grid_thw``. Those repeated pads are what the model sees, and what a renderer must
produce.

Two deliberate departures from ``AutoProcessor.from_pretrained``, neither of which changes an id:

* the image processor is transformers' PIL backend of the same class
  (``Qwen2VLImageProcessorPil``): the config names the torch backend (``...Fast``), which needs
  torch and torchvision; the grid, and so every id, comes from the same ``smart_resize`` in both
  (only pixel values may differ in the last bit, and no id depends on them);
* the processor is built without a video processor, whose class cannot be looked up without
  torchvision: the constructor's class check is skipped for that one argument (``None``), and only
  while it runs. No case has a video.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from conformance.images import placeholder_spans, synthesize

__all__ = ["VisionOracle", "PROCESSOR_FILE", "derive_image_golden", "qwen_vl_processor", "qwen_vl_image_processor"]

#: The snapshot file that sizes images (byte-identical to upstream; see the snapshot's SOURCE.md).
PROCESSOR_FILE = "preprocessor_config.json"


@contextlib.contextmanager
def _without_video_processor_check() -> Iterator[None]:
    from transformers.processing_utils import ProcessorMixin

    real = ProcessorMixin.check_argument_for_proper_class

    def check(self: Any, name: str, arg: Any) -> Any:
        if name == "video_processor" and arg is None:
            return None
        return real(self, name, arg)

    ProcessorMixin.check_argument_for_proper_class = check  # type: ignore[method-assign]
    try:
        yield
    finally:
        ProcessorMixin.check_argument_for_proper_class = real  # type: ignore[method-assign]


def qwen_vl_processor(path: Any, tokenizer: Any) -> Any:
    """transformers' ``Qwen3VLProcessor`` of the snapshot folder ``path`` (its
    ``preprocessor_config.json``) with ``tokenizer``: the PIL image backend, no video processor
    (see the module's docstring)."""
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

    with _without_video_processor_check():
        return Qwen3VLProcessor(image_processor=qwen_vl_image_processor(path), tokenizer=tokenizer, video_processor=None)


def qwen_vl_image_processor(path: Any) -> Any:
    """transformers' PIL image processor of the snapshot folder ``path`` (its
    ``preprocessor_config.json``): the grid, and so every id, of the torch backend its config names."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil.from_pretrained(str(path), local_files_only=True)


class VisionOracle:
    """Expands a template's rendered text with its images into the ids the model sees."""

    def __init__(self, entry: Any, tokenizer: Any):
        if entry.vision != "qwen-vl":
            raise ValueError(f"{entry.model_id}: no image processor in the registry (vision = {entry.vision!r})")
        snap = entry.snapshot()
        if not (snap.path / PROCESSOR_FILE).is_file():
            raise ValueError(f"{entry.model_id}: snapshot {snap.name} has no {PROCESSOR_FILE}")
        self.processor = qwen_vl_processor(snap.path, tokenizer)
        self.image_processor = self.processor.image_processor
        self.pad_id = int(self.processor.image_token_id)
        self.start_id = int(self.processor.vision_start_token_id)
        self.end_id = int(self.processor.vision_end_token_id)

    def describe(self) -> dict[str, Any]:
        """What sizes an image (recorded in each image golden)."""
        ip = self.image_processor
        return {"image_processor": type(ip).__name__, "processor": type(self.processor).__name__,
                "patch_size": int(ip.patch_size), "merge_size": int(ip.merge_size),
                "temporal_patch_size": int(ip.temporal_patch_size),
                "min_pixels": int(ip.size["shortest_edge"]), "max_pixels": int(ip.size["longest_edge"])}

    def expand(self, text: str, specs: Sequence[dict[str, int]]) -> tuple[list[int], list[list[int]]]:
        """``text`` (the template's render, one pad per image) with the images ``specs`` names,
        through the processor: its ids and each image's ``image_grid_thw``."""
        images = [synthesize(s) for s in specs]
        out = self.processor(text=[text], images=images or None)
        ids = [int(i) for i in out["input_ids"][0]]
        grids = [[int(x) for x in g] for g in out["image_grid_thw"]] if images else []
        return ids, grids


def _positions(text_ids: Sequence[int], pad_id: int, counts: Sequence[int]) -> list[int]:
    """Where each text-level token lands once the k-th pad becomes ``counts[k]`` pads (and one
    past the end: the expanded length)."""
    out, at, k = [], 0, 0
    for i in text_ids:
        out.append(at)
        if i == pad_id:
            at += counts[k]
            k += 1
        else:
            at += 1
    return [*out, at]


def _without(spans: Sequence[Sequence[int]], holes: Sequence[Sequence[int]]) -> list[list[int]]:
    """``spans`` minus every ``holes`` span (both sorted, half-open)."""
    out = []
    for s, e in spans:
        cur = s
        for hs, he in holes:
            if he <= cur or hs >= e:
                continue
            if hs > cur:
                out.append([cur, hs])
            cur = max(cur, he)
        if cur < e:
            out.append([cur, e])
    return out


def derive_image_golden(oracle: Any, vision: VisionOracle, variant: Any, case: Any) -> dict[str, Any]:
    """The image golden of one case: the text golden's renders (one pad per image), expanded by
    the processor; each image's size, grid and token count; the text golden's weight spans moved
    to the expanded ids, with every image's tokens (``<|vision_start|>`` through
    ``<|vision_end|>``) weighing 0 except under ``all_tokens``: no choice trains the model to
    predict pixels, and an image is never sampled.

    Invariant (else the side is an ``error``): the expanded ids with each run of pads collapsed to
    one are exactly the text golden's ids, so the processor only repeats pads."""
    from conformance.images import image_specs
    from conformance.oracle.derivation import derive_golden

    text = derive_golden(oracle, variant, case)
    specs = list(image_specs(case.messages))
    rec: dict[str, Any] = {"schema_version": 1, "case": case.id, "model": oracle.entry.model_id, "variant": variant.name,
                           "processor": vision.describe()}
    images: list[dict[str, Any]] = []
    for side in ("prompt", "full"):
        r = text[side]
        if r.get("error"):
            rec[side] = {"error": r["error"]}
            continue
        text_ids = [int(t[0]) for t in r["tokens"]]
        n = text_ids.count(vision.pad_id)
        ids, grids = vision.expand(r["text"], [s for _, _, s in specs[:n]])
        merge = int(vision.image_processor.merge_size) ** 2
        counts = [g[0] * g[1] * g[2] // merge for g in grids]
        collapsed = [i for t, i in enumerate(ids) if i != vision.pad_id or t == 0 or ids[t - 1] != vision.pad_id]
        if collapsed != text_ids:
            d = next((t for t, (a, b) in enumerate(zip(collapsed, text_ids)) if a != b), min(len(collapsed), len(text_ids)))
            rec[side] = {"error": f"the processor changes more than the image pads (first at collapsed token {d})"}
            continue
        rec[side] = {"text": r["text"], "ids": ids, "images": [list(sp) for sp in placeholder_spans(ids, vision.start_id, vision.end_id)]}
        if side == "full" or not images:
            images = [{"message": i, "part": j, "width": s["width"], "height": s["height"], "seed": s["seed"],
                       "grid_thw": g, "tokens": c} for (i, j, s), g, c in zip(specs, grids, counts)]
        if side == "full":
            rec["weights"] = _weights(text, text_ids, ids, counts, rec[side]["images"], vision.pad_id)
    rec["images"] = images
    if "weights" not in rec:
        rec["weights"] = {"error": "no full render"}
    return rec


def _weights(text: dict[str, Any], text_ids: list[int], ids: list[int], counts: list[int],
             holes: list[list[int]], pad_id: int) -> dict[str, Any]:
    at = _positions(text_ids, pad_id, counts)
    out: dict[str, Any] = {}
    for choice, w in text["weights"].items():
        if w.get("error"):
            out[choice] = {"error": w["error"]}
            continue
        moved = [[at[s], at[e]] for s, e in w["spans"]]
        out[choice] = {"spans": moved if choice == "all_tokens" else _without(moved, holes)}
    return out
