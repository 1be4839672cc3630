"""Images: the image goldens keep their invariants, content parts are validated by name, and the
reference renderers' image geometry agrees with the processor's beyond the corpus's sizes.

The invariants read only the stored image goldens and the tokenizer (never the oracle that wrote
them): each placeholder is ``<|vision_start|>``, pads, ``<|vision_end|>`` where the record says,
as many pads as the grid gives merged patches; the grid is a resize of the image within the pixel
bounds, keeping its shape; the ids with each run of pads collapsed to one decode to the template
text; no image token weighs anything except under ``all_tokens``.
"""

from __future__ import annotations

import json
import math

import pytest

from conformance.errors import InvalidMessagesError, TamperedFixtureError
from conformance.fixtures.cases import load_image_cases
from conformance.fixtures.goldens import IMAGE_SCHEMA, golden_dir, golden_problems, load_image_golden
from conformance.fixtures.registry import get_model, load_registry
from conformance.images import for_renderer, synthesize
from conformance.messages import validate_messages

VISION = [m for m, e in load_registry().items() if e.vision]


def _image_goldens(model_id):
    d = golden_dir(get_model(model_id)) / "images"
    for p in sorted(d.glob("*/*.json")):
        yield f"{p.parent.name}/{p.stem}", json.loads(p.read_text(encoding="utf-8"))


def test_the_registry_gives_images_to_the_qwen_vl_models():
    assert set(VISION) == {"Qwen/Qwen3.5-9B", "Qwen/Qwen3.6-35B-A3B"}


def _problems(tok, g):
    out = []
    proc = g["processor"]
    factor, merge = proc["patch_size"] * proc["merge_size"], proc["merge_size"] ** 2
    start, pad, end = (tok.convert_tokens_to_ids(t) for t in ("<|vision_start|>", "<|image_pad|>", "<|vision_end|>"))
    for k, img in enumerate(g["images"]):
        t, gh, gw = img["grid_thw"]
        h, w = gh * proc["patch_size"], gw * proc["patch_size"]
        if t * gh * gw // merge != img["tokens"]:
            out.append(f"image {k}: {img['tokens']} tokens for grid {img['grid_thw']}")
        if h % factor or w % factor or not proc["min_pixels"] <= h * w <= proc["max_pixels"]:
            out.append(f"image {k}: resized to {w}x{h}, off the merged-patch grid or the pixel bounds")
        # The resize keeps the shape: within one merged patch per side of the exact scaling.
        scale = math.sqrt(h * w / (img["width"] * img["height"]))
        if abs(img["width"] * scale - w) > factor or abs(img["height"] * scale - h) > factor:
            out.append(f"image {k}: {img['width']}x{img['height']} resized to {w}x{h} does not keep its shape")
    for side in ("prompt", "full"):
        s = g[side]
        if "error" in s:
            continue
        ids = s["ids"]
        if len(s["images"]) > len(g["images"]):
            out.append(f"{side}: {len(s['images'])} placeholders for {len(g['images'])} images")
        for k, (a, b) in enumerate(s["images"]):
            inner = ids[a + 1 : b - 1]
            if ids[a] != start or ids[b - 1] != end or set(inner) != {pad} or len(inner) != g["images"][k]["tokens"]:
                out.append(f"{side}: image {k}'s tokens [{a}, {b}) are not start, {g['images'][k]['tokens']} pads, end")
        if ids.count(pad) != sum(b - a - 2 for a, b in s["images"]):
            out.append(f"{side}: pads outside the placeholders")
        collapsed = [i for t, i in enumerate(ids) if i != pad or ids[t - 1] != pad]
        if tok.decode(collapsed, skip_special_tokens=False) != s["text"]:
            out.append(f"{side}: the ids with one pad per image do not decode to the template text")
    if "error" not in g["weights"] and "error" not in g["full"]:
        n, holes = len(g["full"]["ids"]), g["full"]["images"]
        for choice, w in g["weights"].items():
            spans = w.get("spans", [])
            if any(not 0 <= a < b <= n for a, b in spans):
                out.append(f"{choice}: spans outside the ids")
            if choice == "all_tokens":
                if "error" not in w and spans != [[0, n]]:
                    out.append(f"all_tokens: spans {spans} do not weigh every token")
            elif any(a < he and hs < b for a, b in spans for hs, he in holes):
                out.append(f"{choice}: weighs an image's tokens")
    return out


@pytest.mark.parametrize("model_id", VISION)
def test_every_image_golden_keeps_the_invariants(model_id):
    tok = get_model(model_id).tokenizer()
    goldens = dict(_image_goldens(model_id))
    variants = get_model(model_id).variants
    assert set(goldens) == {f"{v}/{c.id}" for v in variants for c in load_image_cases()}
    bad = {name: p for name, g in goldens.items() if (p := golden_problems(g, schema_name=IMAGE_SCHEMA) or _problems(tok, g))}
    assert not bad, bad
    # Several sizes and aspect ratios, including one enlarged to the minimum pixel count.
    sizes = {(i["width"], i["height"]) for g in goldens.values() for i in g["images"]}
    assert len(sizes) >= 5 and any(w * h < 65536 for w, h in sizes)


def test_the_invariants_catch_a_miscounted_image():
    model_id = VISION[0]
    tok = get_model(model_id).tokenizer()
    _, g = next((n, g) for n, g in _image_goldens(model_id) if g["images"] and "error" not in g["full"])
    assert _problems(tok, g) == []
    (a, _), pad = g["full"]["images"][0], g["full"]["ids"][g["full"]["images"][0][0] + 1]
    fewer = {**g, "full": {**g["full"], "ids": g["full"]["ids"][: a + 1] + g["full"]["ids"][a + 2 :]}}
    assert any("not start" in p for p in _problems(tok, fewer))
    trained = {**g, "weights": {**g["weights"], "last_assistant_message": {"spans": [[0, len(g["full"]["ids"])]]}}}
    assert any("weighs an image" in p for p in _problems(tok, trained))
    assert pad == tok.convert_tokens_to_ids("<|image_pad|>")


def test_a_hand_edited_image_golden_is_refused(fixture_tree):
    root = fixture_tree(["Qwen__Qwen3.5-9B"])
    entry = get_model("Qwen/Qwen3.5-9B", root)
    p = golden_dir(entry) / "images" / "thinking" / "image-describe.json"
    p.write_text(p.read_text().replace('"tokens": 300', '"tokens": 301', 1))
    with pytest.raises(TamperedFixtureError, match="image-describe"):
        load_image_golden(entry, "thinking", "image-describe")


@pytest.mark.parametrize("size", [(640, 480), (40, 30), (1, 1), (5000, 4000), (10000, 60), (16, 3000), (8192, 8192), (333, 777)])
def test_the_reference_grid_resizes_as_the_processor_does(size):
    """``reference_renderers.vision.ImageGrid`` is written from the processor's documented rule;
    here it meets the processor's own ``smart_resize`` on sizes the corpus does not hold (tiny,
    huge, extreme aspect ratios)."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    from reference_renderers.vision import ImageGrid

    entry = get_model(VISION[0])
    grid = ImageGrid.from_snapshot(entry.snapshot().path)
    w, h = size
    factor = grid.patch_size * grid.merge_size
    want_h, want_w = smart_resize(h, w, factor=factor, min_pixels=grid.min_pixels, max_pixels=grid.max_pixels)
    assert grid.resized(w, h, where="message 0") == (want_w, want_h)


def test_the_reference_grid_refuses_what_the_processor_refuses():
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    from reference_renderers.vision import ImageGrid

    grid = ImageGrid.from_snapshot(get_model(VISION[0]).snapshot().path)
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2010, factor=32, min_pixels=grid.min_pixels, max_pixels=grid.max_pixels)
    with pytest.raises(InvalidMessagesError, match=r"message 3 \(image\): aspect ratio of 2010x10"):
        grid.resized(2010, 10, where="message 3")


@pytest.mark.parametrize(("messages", "parts", "match"), [
    ([{"role": "user", "content": [{"type": "text", "text": "hi"}]}], False,
     r"message 0 \(user\): content is a list of parts .* text content only"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": [{"type": "text", "text": "x"}]}], True,
     r"message 1 \(assistant\): only user messages carry content parts"),
    ([{"role": "user", "content": []}], True, r"message 0: content is an empty list of parts"),
    ([{"role": "user", "content": [{"type": "audio"}]}], True, r"message 0 content\[0\]: part type must be 'text' or 'image', got 'audio'"),
    ([{"role": "user", "content": ["hi"]}], True, r"message 0 content\[0\]: part type"),
    ([{"role": "user", "content": [{"type": "text", "text": 3}]}], True, r"message 0 content\[0\] \(text\): needs text"),
    ([{"role": "user", "content": [{"type": "image", "image": b"png"}]}], True,
     r"message 0 content\[0\] \(image\): image must be a PIL image, got bytes"),
    ([{"role": "user", "content": [{"type": "image", "synthetic": {"width": 0, "height": 5, "seed": 1}}]}], True,
     r"message 0 content\[0\] \(image\): needs image"),
])
def test_bad_content_parts_are_refused_by_message_and_part(messages, parts, match):
    with pytest.raises(InvalidMessagesError, match=match):
        validate_messages(messages, parts=parts)


def test_a_text_only_renderer_refuses_images_by_name_and_a_vision_one_renders_them():
    from reference_renderers import Qwen3Renderer, Qwen35Renderer

    case = next(c for c in load_image_cases() if c.id == "image-describe")
    msgs = for_renderer(case.messages_list())
    with pytest.raises(InvalidMessagesError, match=r"message 0 \(user\): content is a list of parts"):
        Qwen3Renderer(model_id="Qwen/Qwen3-8B").render(msgs)
    r = Qwen35Renderer(model_id="Qwen/Qwen3.5-9B")
    assert r.capabilities.images
    ids = r.render(msgs).ids
    assert ids.count(r.tokenizer.convert_tokens_to_ids("<|image_pad|>")) == 300  # 640x480 -> 20x15 merged patches


def test_synthesized_images_are_the_same_bytes_every_time():
    a, b = synthesize({"width": 37, "height": 11, "seed": 5}), synthesize({"width": 37, "height": 11, "seed": 5})
    assert a.size == (37, 11) and a.tobytes() == b.tobytes()
    assert a.tobytes() != synthesize({"width": 37, "height": 11, "seed": 6}).tobytes()


def test_a_changed_image_golden_is_described_by_its_first_changed_id():
    from conformance.fixtures.golden_diff import first_record_difference

    _, g = next(_image_goldens(VISION[0]))
    ids = list(g["full"]["ids"])
    ids[7] += 1
    assert first_record_difference(g, g) is None
    assert first_record_difference(g, {**g, "full": {**g["full"], "ids": ids}}) == f"full id 7: old {g['full']['ids'][7]} vs new {ids[7]}"


def test_an_image_weight_failure_is_the_loss_weights_finding_and_rests_on_the_image_decision():
    """An image weight failure is signed as loss_weights' are (one behaviour, one finding across
    both areas); where it trains an image's tokens, the finding names the standard's decision."""
    from conformance.report.findings import _decision
    from conformance.suite.findings import signature_of

    def record(area: str, pieces: str) -> dict[str, str]:
        return {"area": area, "nodeid": f"test_{area}.py::t[x-all_messages]",
                "reason": f"weights select the wrong tokens for all_messages\nreproduce: ...\n"
                          f"trained but should not be: [{pieces}]\nnot trained but should be: []"}

    think = "4:'<think>', 5:'\\n\\n'"
    assert signature_of(record("images", think)) == signature_of(record("loss_weights", think))
    sig, title, cls = signature_of(record("images", "4:'<|vision_start|>', 5:'<|image_pad|>'"))
    assert cls == "training" and title.startswith("trains '<|vision_start|>' that is not the turn's own")
    assert "An image's tokens weigh 0" in _decision(sig) and "image" not in _decision(signature_of(record("images", think))[0])
