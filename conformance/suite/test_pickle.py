"""Pickle: the renderer round-trips through pickle, also into a freshly spawned process (how
rollout workers receive it), and behaves identically afterwards.

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys

import pytest

from conformance.suite.support import faithful_cases, prompt_messages


def behaviour(renderer, cases):
    res = []
    for c in cases:
        res.append(renderer.build_generation_prompt(prompt_messages(c), tools=c.tools_list()))
    res.append(renderer.stop_token_ids())
    return res


def _in_child(blob, payload):
    style, cases, path = payload
    sys.path[:] = path  # the server's path is the first session's; the renderer's module may live elsewhere
    from conformance.adapters import adapt

    raw = pickle.loads(blob)
    return behaviour(adapt(raw, style), cases)


def test_pickle_roundtrip_behaves_identically(conformance_ctx, renderer):
    raw = conformance_ctx.raw
    try:
        blob = pickle.dumps(raw)
    except Exception as e:
        pytest.fail(f"the renderer cannot be pickled: {type(e).__name__}: {e}", pytrace=False)
    from conformance.adapters import adapt

    again = adapt(pickle.loads(blob), renderer.style, tokenizer=conformance_ctx.tokenizer)
    cases = faithful_cases(conformance_ctx, 12)
    assert behaviour(again, cases) == behaviour(renderer, cases), "the unpickled renderer behaves differently"


def _fresh_process_context():
    """Where a worker that never saw the renderer built comes from. A fork server (started once per
    interpreter from a clean ``python``, with the suite's adapters imported) forks one in
    milliseconds; spawning a new interpreter per run cost 2.3 s, most of a run's in-process time
    when several certifications share a process (the project's own tests). The child is as fresh as
    a spawned one: it never held the renderer or its module. Where fork servers do not exist
    (Windows), plain spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # What every child needs before it can rebuild a renderer: importing it once in the server
    # saves each child 1.2 s (the tokenizer files themselves are still read by the child).
    ctx.set_forkserver_preload(["conformance.adapters", "conformance.fixtures.snapshots", "transformers.models.auto.tokenization_auto"])
    return ctx


@pytest.fixture(scope="session")
def spawned_worker():
    """One fresh worker process per run (how rollout workers receive a renderer); the variants of a
    ``--conformance-variant all`` run share it."""
    with _fresh_process_context().Pool(1) as pool:
        yield pool


def test_pickle_into_a_spawned_process(conformance_ctx, renderer, spawned_worker):
    try:
        blob = pickle.dumps(conformance_ctx.raw)
    except Exception as e:
        pytest.fail(f"the renderer cannot be pickled: {type(e).__name__}: {e}", pytrace=False)
    cases = faithful_cases(conformance_ctx, 4)
    got = spawned_worker.apply(_in_child, (blob, (renderer.style, cases, list(sys.path))))
    # The same first line as the in-process check: one root cause (state lost in pickling) is one
    # finding, wherever the renderer was unpickled.
    assert got == behaviour(renderer, cases), "the unpickled renderer behaves differently\n(unpickled in a freshly spawned process)"
