"""Streaming: a streamed parse of the golden completion, one id at a time or all at once, adds up
to the one-shot parse of the same ids, termination included, also when the stream is cut before
its stop id; no delta shows what the one-shot parse does not have (a special token's text, a
marker's first characters taken back later). Other chunkings are the generated area's (any split
points, on generated conversations).

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import pytest

from conformance.suite.support import golden_completion, repro, stream, stream_problems


def test_streamed_deltas_add_up_to_the_one_shot_parse(conformance_ctx, renderer, case):
    ids, _, _ = golden_completion(conformance_ctx, case, "streaming")
    for cut, ending in ((ids, "golden_completion_ids"), (ids[:-1], "golden_completion_ids[:-1]")):
        one_shot = renderer.parse_response(cut)
        for chunks, how in (([[i] for i in cut], "one id at a time"), ([cut], "all at once")):
            problems = stream_problems(stream(renderer, cut, chunks), one_shot, conformance_ctx.tokenizer)
            if problems:
                call = f"renderer.parse_response_streaming(chunks)  # {ending}, {how}; vs renderer.parse_response({ending})"
                pytest.fail("\n".join(problems) + "\n" + repro(conformance_ctx, case, call), pytrace=False)
