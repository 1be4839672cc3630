"""Render speed, as ratios against HF ``apply_chat_template`` and the peers, measured in one run.

    python benchmarks/bench_render.py [--repeats 20] [--out reports/benchmarks]

For Qwen3 at 1, 10 and 50 turns it times, per call on a *new* conversation of random words (so no
implementation profits from warm BPE word caches):

* ``reference``: ``reference_renderers.Qwen3Renderer.render(messages).ids``;
* ``hf``: ``tokenizer.apply_chat_template(messages, tokenize=True)``;
* ``hf_encode_only``: encoding the already-rendered text alone (a floor for any Jinja route);
* ``prime``: Prime Intellect ``renderers`` ``render_ids`` (when installed);

and, after a 50-turn history ending in a tool call, ``bridge_to_next_turn`` for one new tool message
against a full render of the same conversation. Medians of ``--repeats`` calls; results are written
as JSON and Markdown to ``<out>/<date>/`` with the machine and library versions. Speed is never
asserted in tests: this script is the measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "Qwen/Qwen3-8B"
TURNS = (1, 10, 50)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_LETTERS) for _ in range(rng.randint(2, 9)))


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(_word(rng) for _ in range(n)).capitalize() + "."


def conversation(rng: random.Random, turns: int, *, end_with_tool_call: bool = False) -> list[dict[str, Any]]:
    """``turns`` user/assistant exchanges of fresh random words (~330 tokens per exchange)."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": _sentence(rng, 20)}]
    for _ in range(turns):
        msgs.append({"role": "user", "content": _sentence(rng, 60)})
        msgs.append({"role": "assistant", "content": " ".join(_sentence(rng, 15) for _ in range(12))})
    if end_with_tool_call:
        msgs[-1] = {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call00001", "type": "function",
                            "function": {"name": "lookup", "arguments": json.dumps({"query": _sentence(rng, 5)})}}],
        }
    return msgs


def median_ms(fn: Callable[[Any], Any], inputs: list[Any]) -> float:
    times = []
    for x in inputs:
        t0 = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=str(ROOT / "reports" / "benchmarks"))
    args = ap.parse_args(argv)

    from conformance.fixtures.goldens import library_versions
    from conformance.fixtures.registry import get_model
    from reference_renderers import Qwen3Renderer

    entry = get_model(MODEL)
    tok = entry.tokenizer()
    ours = Qwen3Renderer(tok)
    impls: dict[str, Callable[[list[dict[str, Any]]], Any]] = {
        "reference": lambda m: ours.render(m).ids,
        "hf": lambda m: tok.apply_chat_template(m, tokenize=True),
    }
    try:
        from conformance.peers import prime

        pr = prime(tok, model_id=MODEL)
        impls["prime"] = lambda m: pr.render_ids(m)
    except ImportError:
        pass
    rng = random.Random(20261122)
    rows = []
    for turns in TURNS:
        convs = {name: [conversation(rng, turns) for _ in range(args.repeats)] for name in impls}
        texts = [tok.apply_chat_template(conversation(rng, turns), tokenize=False) for _ in range(args.repeats)]
        n_tokens = len(ours.render(convs["hf"][0]).ids)
        row: dict[str, Any] = {"turns": turns, "tokens": n_tokens}
        for name, fn in impls.items():
            row[name] = round(median_ms(fn, convs[name]), 3)
        row["hf_encode_only"] = round(median_ms(lambda t: tok.encode(t, add_special_tokens=False), texts), 3)
        rows.append(row)

    # The bridge: one new tool message after a 50-turn history that ended in a tool call.
    cases = []
    for _ in range(args.repeats):
        msgs = conversation(rng, 50, end_with_tool_call=True)
        prompt = ours.build_generation_prompt(msgs[:-1])
        full = ours.render(msgs).ids
        completion = full[len(prompt) : full.index(ours.stop_token_ids()[0], len(prompt)) + 1]
        new = [{"role": "tool", "tool_call_id": "call00001", "content": _sentence(rng, 30)}]
        cases.append((msgs, prompt, completion, new))
    bridge_ms = median_ms(lambda c: ours.bridge_to_next_turn(c[1], c[2], c[3]), cases)
    full_ms = median_ms(lambda c: ours.build_generation_prompt(c[0] + c[3]), cases)
    same = all(ours.bridge_to_next_turn(c[1], c[2], c[3]) == ours.build_generation_prompt(c[0] + c[3]) for c in cases[:3])

    result = {
        "schema_version": 1,
        "date": dt.date.today().isoformat(),
        "model": MODEL,
        "repeats": args.repeats,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "libraries": library_versions() | _peer_versions(),
        "render_ms": rows,
        "bridge": {"bridge_ms": round(bridge_ms, 3), "full_render_ms": round(full_ms, 3),
                   "ratio": round(bridge_ms / full_ms, 4), "bridge_equals_full_render": same},
    }
    out = Path(args.out) / result["date"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))
    return 0


def _peer_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for lib in ("renderers", "tml-renderers", "tinker-cookbook"):
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return out


def _markdown(r: dict[str, Any]) -> str:
    names = [k for k in ("reference", "hf", "prime", "hf_encode_only") if k in r["render_ms"][0]]
    lines = [f"# Render speed, {r['model']} ({r['date']})", "",
             f"Median of {r['repeats']} calls, each on a new random-word conversation; {r['machine']['cpus']} CPUs, "
             f"Python {r['machine']['python']}; libraries: "
             + ", ".join(f"{k} {v}" for k, v in r["libraries"].items() if k != "python") + ".", "",
             "| turns | tokens | " + " | ".join(f"{n} ms" for n in names) + " | HF / reference |"
             + (" Prime / reference |" if "prime" in names else ""),
             "|---|---|" + "---|" * len(names) + "---|" + ("---|" if "prime" in names else "")]
    for row in r["render_ms"]:
        line = f"| {row['turns']} | {row['tokens']:,} | " + " | ".join(f"{row[n]:.2f}" for n in names)
        line += f" | {row['hf'] / row['reference']:.2f}x |"
        if "prime" in names:
            line += f" {row['prime'] / row['reference']:.2f}x |"
        lines.append(line)
    b = r["bridge"]
    lines += ["", f"Bridge after a 50-turn history (one new tool message): {b['bridge_ms']:.3f} ms vs "
              f"{b['full_render_ms']:.2f} ms for the full generation prompt ({100 * b['ratio']:.1f}%); "
              f"bridge equals the full render: {b['bridge_equals_full_render']}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
