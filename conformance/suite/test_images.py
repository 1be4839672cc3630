"""Images: user messages whose content is a list of text and image parts (capability ``images``),
on a model the registry gives an image processor (``vision``). The goldens are the ids
transformers' own processor gives (:mod:`conformance.oracle.vision`): the template's
``<|vision_start|><|image_pad|><|vision_end|>`` with the pad repeated once per merged patch of
the resized image. Checked: the generation prompt and the full render (each image's placeholder
ids and count; a case of text parts and no image renders as the template renders that text), and
supervised weights under every claimed choice (an image's tokens weigh 0 except under
``all_tokens``). A renderer claiming images is judged on the text corpus by every other area, as
before.

The renderer receives each image as a PIL image synthesized from the case's size and seed
(:func:`conformance.images.for_renderer`).

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from conformance.images import for_renderer, placeholder_spans
from conformance.protocol import TRAIN_ON
from conformance.suite.evidence import record_note
from conformance.suite.support import benign_tail, prompt_messages, require, skip_template_fact, token_diff


def _golden(ctx: Any, case: Any) -> dict[str, Any]:
    require(ctx, "images")
    if not ctx.entry.vision:
        pytest.skip(f"template fact: {ctx.entry.model_id} takes no images (registry: no vision)")
    return ctx.image_golden(case)


def _side(g: dict[str, Any], side: str) -> dict[str, Any]:
    if "error" in g[side]:
        skip_template_fact(f"no {side} render", g[side]["error"])
    return g[side]


def _repro(ctx: Any, case: Any, call: str) -> str:
    return (f"case {case.id!r} ({case.description}) on {ctx.entry.model_id} [{ctx.variant.name}]\n"
            "reproduce:\n"
            "    from conformance.fixtures.cases import load_image_cases\n"
            "    from conformance.images import for_renderer\n"
            f"    case = next(c for c in load_image_cases() if c.id == {case.id!r})\n"
            "    messages = for_renderer(case.messages_list())  # images as PIL images\n"
            f"    renderer = ...  # {ctx.spec}\n"
            f"    {call}\n")


def _image_problems(g: dict[str, Any], side: dict[str, Any], got: Sequence[int]) -> list[str]:
    """Each image whose placeholder is not where and as long as the processor's."""
    want = side["ids"]
    s0, e0 = side["images"][0]
    found = [list(sp) for sp in placeholder_spans(got, want[s0], want[e0 - 1])]  # <|vision_start|>, <|vision_end|>
    out = []
    for k, (span, img) in enumerate(zip(side["images"], g["images"])):
        what = f"image {k} (message {img['message']} part {img['part']}, {img['width']}x{img['height']})"
        if k >= len(found):
            out.append(f"{what}: no placeholder in the renderer's ids (expected {img['tokens']} pads at {span[0]})")
            continue
        n_got, n_want = found[k][1] - found[k][0] - 2, span[1] - span[0] - 2
        if n_got != n_want:
            out.append(f"{what}: {n_got} pads, the processor gives {n_want} (grid {img['grid_thw']})")
        elif found[k] != list(span):
            out.append(f"{what}: placeholder at {found[k][0]}, expected at {span[0]}")
    return out


def _assert_ids(ctx: Any, case: Any, g: dict[str, Any], side: dict[str, Any], got: Sequence[int], what: str, call: str,
                *, benign_ok: bool = False) -> None:
    """As the parity area judges ids; with ``benign_ok`` (a full render, a supervised example) the
    template's text after the final end-of-turn token missing is a note (README decisions)."""
    want = side["ids"]
    if list(got) == want:
        return
    note = benign_tail(ctx.tokenizer, want, got, ctx.oracle_stop_ids) if benign_ok else None
    if note:
        record_note(note)
        return
    problems = _image_problems(g, side, got) if side["images"] else []
    head = "; ".join(problems) if problems else f"{what} differs from the processor's ids"
    pytest.fail(f"{head}\n{_repro(ctx, case, call)}{token_diff(ctx.tokenizer, want, list(got), what=what)}", pytrace=False)


def test_image_generation_prompt(conformance_ctx, renderer, image_case):
    g = _golden(conformance_ctx, image_case)
    side = _side(g, "prompt")
    msgs = for_renderer(prompt_messages(image_case))
    got = renderer.build_generation_prompt(msgs)
    _assert_ids(conformance_ctx, image_case, g, side, got, "generation prompt", "renderer.build_generation_prompt(messages[:-1])")


def test_image_full_render(conformance_ctx, renderer, image_case):
    g = _golden(conformance_ctx, image_case)
    require(conformance_ctx, "full_render")
    side = _side(g, "full")
    got = renderer.render(for_renderer(image_case.messages_list())).ids
    _assert_ids(conformance_ctx, image_case, g, side, got, "full render", "renderer.render(messages).ids", benign_ok=True)


@pytest.mark.parametrize("train_on", TRAIN_ON)
def test_image_supervised_weights(conformance_ctx, renderer, image_case, train_on):
    g = _golden(conformance_ctx, image_case)
    require(conformance_ctx, "supervised")
    if train_on not in renderer.capabilities.train_on:
        pytest.skip(f"capability not claimed: train_on={train_on}")
    side = _side(g, "full")
    w = g["weights"].get(train_on) if "error" not in g["weights"] else g["weights"]
    if w is None or "error" in w:
        skip_template_fact(f"{train_on} weights are not derivable", (w or {}).get("error", "no such choice"))
    call = f"renderer.build_supervised_example(messages, train_on={train_on!r})"
    ex = renderer.build_supervised_example(for_renderer(image_case.messages_list()), train_on=train_on)
    _assert_ids(conformance_ctx, image_case, g, side, ex.ids, "supervised example", call, benign_ok=True)
    want = [0.0] * len(side["ids"])
    for s, e in w["spans"]:
        want[s:e] = [1.0] * (e - s)
    want = want[: len(ex.ids)]  # a benign example ends early: judged on the ids it has (the rest weighs 0)
    got = [float(x) for x in ex.weights]
    assert len(got) == len(want), f"{len(got)} weights for {len(want)} ids"
    if got != want:
        # Worded as the loss_weights area words it, so one behaviour is one finding in both areas.
        tok = conformance_ctx.tokenizer
        extra = [i for i in range(len(want)) if got[i] and not want[i]][:8]
        missing = [i for i in range(len(want)) if want[i] and not got[i]][:8]
        show = lambda ids: ", ".join(f"{i}:{tok.decode([side['ids'][i]])!r}" for i in ids)  # noqa: E731
        inside = [f"image {j}'s tokens [{s}, {e})" for j, (s, e) in enumerate(side["images"])
                  if any(s <= i < e for i in extra + missing)]
        pytest.fail(f"weights select the wrong tokens for {train_on}{' (' + ', '.join(inside) + ')' if inside else ''}\n"
                    f"{_repro(conformance_ctx, image_case, call)}"
                    f"trained but should not be: [{show(extra)}]\nnot trained but should be: [{show(missing)}]", pytrace=False)

