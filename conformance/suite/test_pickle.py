"""Pickle: the renderer round-trips through pickle, also into a freshly spawned process (how
rollout workers receive it), and behaves identically afterwards."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest

from conformance.suite.support import lossy_reason, prompt_messages


def _sample(ctx, n=12):
    out = []
    for c in ctx.cases:
        g = ctx.golden(c)
        # Cases the template renders faithfully: a renderer may refuse the others.
        if lossy_reason(g) is None and not g["prompt"].get("error") and (not c.tools or ctx.renderer.capabilities.tools):
            out.append(c)
    step = max(1, len(out) // n)
    return out[::step][:n]


def behaviour(renderer, cases):
    res = []
    for c in cases:
        res.append(renderer.build_generation_prompt(prompt_messages(c), tools=c.tools_list()))
    res.append(renderer.stop_token_ids())
    return res


def _in_child(blob, payload):
    from conformance.adapters import adapt

    raw = pickle.loads(blob)
    style, cases = payload
    return behaviour(adapt(raw, style), cases)


def test_pickle_roundtrip_behaves_identically(conformance_ctx, renderer):
    raw = conformance_ctx.raw
    try:
        blob = pickle.dumps(raw)
    except Exception as e:
        pytest.fail(f"the renderer cannot be pickled: {type(e).__name__}: {e}", pytrace=False)
    from conformance.adapters import adapt

    again = adapt(pickle.loads(blob), renderer.style, tokenizer=conformance_ctx.tokenizer)
    cases = _sample(conformance_ctx)
    assert behaviour(again, cases) == behaviour(renderer, cases), "the unpickled renderer behaves differently"


@pytest.fixture(scope="session")
def spawned_worker():
    """One freshly spawned worker process per run (how rollout workers receive a renderer; the
    variants of a ``--conformance-variant all`` run share it: starting Python and importing the
    renderer's libraries again per variant cost 1.8 s each, and proves nothing more)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        yield pool


def test_pickle_into_a_spawned_process(conformance_ctx, renderer, spawned_worker):
    try:
        blob = pickle.dumps(conformance_ctx.raw)
    except Exception as e:
        pytest.fail(f"the renderer cannot be pickled: {type(e).__name__}: {e}", pytrace=False)
    cases = _sample(conformance_ctx, 4)
    got = spawned_worker.apply(_in_child, (blob, (renderer.style, cases)))
    assert got == behaviour(renderer, cases), "the renderer behaves differently in a spawned process"
