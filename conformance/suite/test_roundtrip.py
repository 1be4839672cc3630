"""Round trip: the golden completion parses back to the message; a clean stop is reported as such
and the same ids without their stop token are not.

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import pytest

from conformance.protocol import Termination
from conformance.suite.support import golden_completion, parse_problems, repro, require, skip_template_fact


def _completion(ctx, case):
    return golden_completion(ctx, case, "parse")


def test_completion_parses_back_to_the_message(conformance_ctx, renderer, case):
    ids, exp, why = _completion(conformance_ctx, case)
    if exp is None:
        skip_template_fact("no defined parse", why)
    problems = parse_problems(renderer.parse_response(ids), exp)
    if problems:
        pytest.fail(
            "\n".join(problems) + "\n" + repro(conformance_ctx, case, "renderer.parse_response(golden_completion_ids)"), pytrace=False
        )


def test_truncated_completion_is_not_clean(conformance_ctx, renderer, case):
    ids, _, _ = _completion(conformance_ctx, case)
    p = renderer.parse_response(ids[:-1])
    assert p.termination != Termination.STOP_SEQUENCE, "a completion cut before its stop token was reported as a clean stop\n" + repro(
        conformance_ctx, case, "renderer.parse_response(golden_completion_ids[:-1])"
    )


def test_garbage_ids_do_not_raise(conformance_ctx, renderer):
    require(conformance_ctx, "parse")
    vocab = len(conformance_ctx.tokenizer)
    for ids in ([], [0], [vocab - 1] * 5, list(range(100, 140)), [10**9]):
        p = renderer.parse_response(ids)
        assert p.termination != Termination.STOP_SEQUENCE or (ids and ids[-1] in renderer.stop_token_ids()), (
            f"parse_response({ids[:12]!r}{'...' if len(ids) > 12 else ''}) reports a clean stop, but the ids do not end with a stop id")
