"""Threads: one renderer shared by eight threads gives every call exactly what it gives alone.

RL trainers render rollouts and parse samples from thread pools, and Prime ships renderer pools
because tokenizers are shared state: a renderer that keeps per-call state on itself (a scratch
buffer, a "current message" attribute, a tokenizer whose settings a call changes) returns one
conversation's ids for another's when two calls overlap. That is a sampling defect: the sampler
sees a prompt of another conversation, and nothing downstream notices.

The check: for a sample of cases the template renders faithfully, the generation prompt, a
supervised example (the first train-on choice claimed) and the parse of the golden completion are
computed one at a time; then every call runs ``ROUNDS`` times more, shuffled, from ``THREADS``
threads released together (waves of that, for ``--conformance-thread-seconds`` or until a race
shows), with the interpreter's thread switch interval shortened so that
threads interleave inside a call (at the default 5 ms most calls would finish before a switch).
Every result must equal the serial one. A call that raises on its own is left to the area that
judges it; one that raises only when threads overlap is a race like any other.

PYTEST_DONT_REWRITE: each assertion here states its own evidence (see :mod:`conformance.suite.support`).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from conformance import options as O
from conformance.fixtures.golden_record import Reason
from conformance.suite.support import faithful_cases, prompt_messages, repro

THREADS = 8
ROUNDS = 4
CASES = 12
#: How long to keep trying (at least MIN_WAVES waves): the mutant with a shared scratch buffer
#: raced in 5 of 6 runs of one 20-round wave, and in every one of 40 runs of this loop.
SECONDS = 0.5
MIN_WAVES = 2
#: The thread switch interval while threads overlap (the default is 5 ms); measured on a renderer
#: with a shared scratch buffer: at 5 ms, 0 of 20 runs raced; at 10 us, 20 of 20.
SWITCH_INTERVAL_S = 1e-6


@dataclass
class Call:
    what: str  # the call as a reproduction writes it
    case: Any
    run: Callable[[], Any]


@dataclass
class Outcome:
    call: Call
    start: float
    end: float
    result: Any = None
    error: str | None = None


def _calls(ctx: Any, renderer: Any) -> list[Call]:
    caps = renderer.capabilities
    calls = []
    for c in faithful_cases(ctx, CASES):
        msgs, tools = prompt_messages(c), c.tools_list()
        calls.append(Call("renderer.build_generation_prompt(prompt_messages, tools=tools)", c,
                          partial(_prompt, renderer, msgs, tools)))
        if caps.supervised and caps.train_on:
            choice = caps.train_on[0]
            calls.append(Call(f"renderer.build_supervised_example(messages, tools=tools, train_on={choice!r})", c,
                              partial(_example, renderer, c.messages_list(), tools, choice)))
        completion = ctx.golden(c).completion
        if caps.parse and completion is not None and not isinstance(completion, Reason):
            calls.append(Call("renderer.parse_response(golden_completion_ids)", c, partial(renderer.parse_response, completion.ids)))
    return calls


def _prompt(renderer: Any, messages: list[Any], tools: Any) -> list[int]:
    return list(renderer.build_generation_prompt(messages, tools=tools))


def _example(renderer: Any, messages: list[Any], tools: Any, train_on: str) -> tuple[list[int], list[float]]:
    ex = renderer.build_supervised_example(messages, tools=tools, train_on=train_on)
    return list(ex.ids), [float(w) for w in ex.weights]


def _overlapping(outcome: Outcome, others: list[Outcome]) -> Outcome | None:
    """The call on another case that overlapped ``outcome`` longest: the conversation it raced with."""
    best, best_overlap = None, 0.0
    for o in others:
        if o is outcome or o.call.case.id == outcome.call.case.id:
            continue
        overlap = min(o.end, outcome.end) - max(o.start, outcome.start)
        if overlap > best_overlap:
            best, best_overlap = o, overlap
    return best


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + " …"


def _wave(calls: list[Call], serial: dict[int, Any], rng: random.Random) -> list[tuple[int, Outcome]]:
    """Every call that succeeds alone, ROUNDS times, shuffled, from THREADS threads released together."""
    tasks = [i for i in serial for _ in range(ROUNDS)]
    rng.shuffle(tasks)
    gate = threading.Barrier(THREADS)

    def run(i: int) -> Outcome:
        start = time.perf_counter()
        try:
            return Outcome(calls[i], start, time.perf_counter(), result=calls[i].run())
        except Exception as e:  # noqa: BLE001 - a crash only when threads overlap is a race
            return Outcome(calls[i], start, time.perf_counter(), error=f"{type(e).__name__}: {e}")

    def released(chunk: list[int]) -> list[tuple[int, Outcome]]:
        gate.wait()  # every thread starts at once: overlap is what the check is about
        return [(i, run(i)) for i in chunk]

    with ThreadPoolExecutor(THREADS) as pool:
        return [pair for part in pool.map(released, [tasks[k::THREADS] for k in range(THREADS)]) for pair in part]


def _raced(done: list[tuple[int, Outcome]], serial: dict[int, Any]) -> list[tuple[int, Outcome]]:
    return [(i, o) for i, o in done if o.error is not None or o.result != serial[i]]


def test_calls_from_many_threads_give_what_they_give_alone(conformance_ctx, renderer, request):
    calls = _calls(conformance_ctx, renderer)
    serial: dict[int, Any] = {}
    for i, call in enumerate(calls):
        try:
            serial[i] = call.run()
        except Exception:  # noqa: BLE001 - the call's own failure is its area's to report
            continue
    if len(serial) < 2:
        pytest.skip("fewer than two calls succeed on their own: nothing to run side by side")
    done: list[tuple[int, Outcome]] = []
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        # Waves until a race shows or the time is spent (at least MIN_WAVES): a race is a matter
        # of chance, and a fast renderer gets more tries in the same time as a slow one.
        deadline = time.perf_counter() + O.value(request.config, O.THREAD_SECONDS)
        for wave in range(10**6):
            if wave >= MIN_WAVES and (time.perf_counter() > deadline or _raced(done, serial)):
                break
            done += _wave(calls, serial, random.Random(wave))
    finally:
        sys.setswitchinterval(before)
    outcomes = [o for _, o in done]
    raced = _raced(done, serial)
    if not raced:
        return
    i, first = raced[0]
    other = _overlapping(first, outcomes)
    got = first.error or _short(first.result)
    # The first line names the behaviour (what a finding is titled by), the counts come after.
    behaviour = (f"raise {first.error.splitlines()[0][:120]}" if first.error else "give other results than alone")
    lines = [f"calls that overlap in {THREADS} threads {behaviour}",
             f"{len(raced)} of {len(done)} calls differed from the same call alone",
             f"first: {first.call.what} on case {first.call.case.id!r}",
             f"  alone:   {_short(serial[i])}", f"  threaded: {got}"]
    if other is not None:
        lines.append(f"it raced with {other.call.what} on case {other.call.case.id!r}")
    lines.append(repro(conformance_ctx, first.call.case, first.call.what))
    pytest.fail("\n".join(lines), pytrace=False)
