"""Stop sequences: the stop ids include the id that closes assistant turns, are special tokens
(text can never contain one), and decode to the template's end-of-turn marker."""

from __future__ import annotations

from conformance.suite.support import ids_of


def test_stop_ids_include_the_turn_closing_id(conformance_ctx, renderer):
    stops = set(renderer.stop_token_ids())
    closing = set()
    for c in conformance_ctx.cases:
        comp = conformance_ctx.golden(c)["completion"]
        if not comp.get("error"):
            closing.add(ids_of(comp["tokens"])[-1])
    assert closing, "no golden completion to learn the closing id from"
    missing = closing - stops
    tok = conformance_ctx.tokenizer
    assert not missing, f"stop ids {sorted(stops)} miss the id(s) that close assistant turns in the goldens: " + ", ".join(
        f"{i} {tok.decode([i])!r}" for i in sorted(missing))


def test_stop_ids_are_special_tokens(conformance_ctx, renderer):
    tok = conformance_ctx.tokenizer
    plain = [i for i in renderer.stop_token_ids() if i not in conformance_ctx.added_token_ids]
    assert not plain, "stop ids that are ordinary text tokens would cut content: " + ", ".join(f"{i} {tok.decode([i])!r}" for i in plain)


def test_stop_ids_decode_to_the_end_of_turn_marker(conformance_ctx, renderer):
    tok = conformance_ctx.tokenizer
    decoded = {tok.decode([i], skip_special_tokens=False) for i in renderer.stop_token_ids()}
    assert decoded & set(conformance_ctx.entry.end_of_turn), (
        f"stop ids decode to {sorted(decoded)}; the template closes assistant turns with {list(conformance_ctx.entry.end_of_turn)}")
