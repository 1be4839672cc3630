"""Render speed on every family, as ratios, implementations interleaved call by call on one core.

    python benchmarks/bench_families.py [--repeats 15] [--out reports/benchmarks]

For each family's default model, at 1, 10 and 50 turns of fresh random words and on a tool-heavy
conversation (10 exchanges, each a tool call and its result, tools declared), it times the
generation prompt after the whole conversation (the sampling hot path, one call in every library),
per call on a *new* conversation (no warm BPE word cache):

* ``reference``: the hand-written renderer as shipped (the fast exact BPE where the snapshot allows
  it, ``reference_renderers/fast_bpe.py``);
* ``reference_hf``: the same renderer encoding with HF ``tokenizers`` (what the fast BPE replaced);
* ``hf``: ``tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)``;
* every peer library (Prime ``render_ids``, tinker-cookbook, tml-renderers
  ``render_for_completion``), through our adapters, where it is installed in this interpreter
  and serves the model.

The implementations take turns call by call, so other load on the machine falls on all alike;
everything runs on one core (``RAYON_NUM_THREADS=1``; the reference encodes single-threaded).
Medians per cell; results as JSON and Markdown in ``<out>/<date>/families*.{json,md}``. Speed is
never asserted in tests: this script is the measurement (``nox -s bench`` runs it with the peers).
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # before tokenizers is imported: one core for HF too

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_render import _sentence, conversation  # noqa: E402

TURNS = (1, 10, 50)
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Look a query up.",
                                            "parameters": {"type": "object", "properties": {"query": {"type": "string"}},
                                                           "required": ["query"]}}}]


def tool_conversation(rng: random.Random, exchanges: int, as_object: bool) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": _sentence(rng, 20)}]
    for k in range(exchanges):
        args: Any = {"query": _sentence(rng, 6)}
        msgs += [{"role": "user", "content": _sentence(rng, 30)},
                 {"role": "assistant", "content": "", "tool_calls": [{"id": f"call{k:05d}", "type": "function", "function": {
                     "name": "lookup", "arguments": args if as_object else json.dumps(args)}}]},
                 {"role": "tool", "tool_call_id": f"call{k:05d}", "content": _sentence(rng, 40)},
                 {"role": "assistant", "content": _sentence(rng, 25)}]
    return msgs


def _implementations(model_id: str) -> tuple[dict[str, Callable[..., Any]], Any]:
    from conformance.fixtures.registry import get_model
    from conformance.fixtures.snapshots import load_text_encoder
    from conformance.peers import PEERS
    from reference_renderers import get_renderer

    entry = get_model(model_id)
    tok = entry.tokenizer()
    variant = next(iter(entry.variants.values()))
    ours = get_renderer(model_id, tok)
    plain = get_renderer(model_id, tok)
    plain._enc.text_encoder = load_text_encoder(entry.snapshot())  # what the fast BPE replaced
    # The sampling hot path, one call in every library: the generation prompt after the whole
    # conversation (the adapters' full renders of tml and tinker build one example per turn).
    impls: dict[str, Callable[..., Any]] = {
        "reference": lambda m, tools: ours.build_generation_prompt(m, tools=tools),
        "reference_hf": lambda m, tools: plain.build_generation_prompt(m, tools=tools),
        "hf": lambda m, tools: tok.apply_chat_template(m, tools=tools, tokenize=True, add_generation_prompt=True,
                                                       **variant.template_kwargs),
    }
    for name, peer in PEERS.items():
        if peer.serves(entry, variant.name):
            continue
        try:
            r = peer.factory(tok, model_id=model_id, variant=variant.name)
        except Exception:  # noqa: BLE001 - not installed in this interpreter, or not buildable here
            continue
        from conformance.adapters import adapt

        adapted = adapt(r, tokenizer=tok)
        impls[name] = lambda m, tools, a=adapted: a.build_generation_prompt(m, tools=tools)
    return impls, entry


def _time(fn: Callable[..., Any], *args: Any) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - t0) * 1000


def bench_model(model_id: str, repeats: int, rng: random.Random) -> dict[str, Any]:
    impls, entry = _implementations(model_id)
    as_object = entry.tool_arguments == "object"
    shapes = [(f"{t} turns", lambda t=t: (conversation(rng, t), None)) for t in TURNS]
    shapes.append(("tools x10", lambda: (tool_conversation(rng, 10, as_object), TOOLS)))
    rows = []
    for label, make in shapes:
        times: dict[str, list[float]] = {n: [] for n in impls}
        failed: dict[str, str] = {}
        tokens = 0
        for r in range(repeats):
            order = list(impls)
            order = order[r % len(order):] + order[: r % len(order)]  # who goes first rotates
            for name in order:
                if name in failed:
                    continue
                msgs, tools = make()
                try:
                    times[name].append(_time(impls[name], msgs, tools))
                except Exception as e:  # noqa: BLE001 - a renderer that cannot render this shape: said, not timed
                    failed[name] = f"{type(e).__name__}: {str(e)[:80]}"
            if not tokens and "reference" not in failed:
                msgs, tools = make()
                try:
                    tokens = len(impls["reference"](msgs, tools))
                except Exception as e:  # noqa: BLE001 - recorded like a timing failure
                    failed["reference"] = f"{type(e).__name__}: {str(e)[:80]}"
        row: dict[str, Any] = {"shape": label, "tokens": tokens}
        for name in impls:
            row[name] = round(statistics.median(times[name]), 3) if times[name] and name not in failed else None
        if failed:
            row["failed"] = failed
        rows.append(row)
    return {"model": model_id, "family": entry.family, "implementations": list(impls), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--model", action="append", help="only this model id (default: each family's default model)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "benchmarks"))
    ap.add_argument("--suffix", default="", help="file name suffix (e.g. the environment: families-tml.md)")
    ap.add_argument("--replot", metavar="JSON", help="only write the Markdown and the plot again from a results file")
    args = ap.parse_args(argv)
    if args.replot:
        path = Path(args.replot)
        result = json.loads(path.read_text(encoding="utf-8"))
        path.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
        path.with_suffix(".svg").write_text(svg(result), encoding="utf-8")
        return 0

    from bench_render import _peer_versions

    from conformance.fixtures.goldens import library_versions
    from reference_renderers.families import load_all

    models = args.model or [cls.default_model for _, cls in sorted(load_all().items())]
    rng = random.Random(20261205)
    results = [bench_model(m, args.repeats, rng) for m in models]
    result = {"schema_version": 1, "date": dt.date.today().isoformat(), "repeats": args.repeats,
              "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                          "threads": os.environ.get("RAYON_NUM_THREADS")},
              "libraries": library_versions() | _peer_versions(), "models": results}
    out = Path(args.out) / result["date"]
    out.mkdir(parents=True, exist_ok=True)
    stem = "families" + (f"-{args.suffix}" if args.suffix else "")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / f"{stem}.md").write_text(markdown(result), encoding="utf-8")
    (out / f"{stem}.svg").write_text(svg(result), encoding="utf-8")
    print(markdown(result))
    return 0


def markdown(r: dict[str, Any]) -> str:
    lines = [f"# Generation-prompt speed on every family ({r['date']})", "",
             f"Median of {r['repeats']} calls per cell, each on a new random-word conversation, implementations "
             f"interleaved call by call, one core; {r['machine']['cpus']} CPUs, Python {r['machine']['python']}; "
             + ", ".join(f"{k} {v}" for k, v in r["libraries"].items() if k != "python") + ".", "",
             "Ratios are the other implementation's time over the reference's (above 1: the reference is faster).", ""]
    for m in r["models"]:
        others = [n for n in m["implementations"] if n != "reference"]
        lines += [f"## {m['model']} ({m['family']})", "",
                  "| shape | tokens | reference ms | " + " | ".join(f"{n} ms" for n in others) + " | "
                  + " | ".join(f"{n} / reference" for n in others) + " |",
                  "|---|---|---|" + "---|" * (2 * len(others))]
        for row in m["rows"]:
            ref = row["reference"]
            if ref is None:
                lines.append(f"| {row['shape']} | — | — | the reference refuses this shape: {row['failed']['reference']} |")
                continue
            cells = [f"{row[n]:.2f}" if row[n] is not None else "—" for n in others]
            ratios = [f"{row[n] / ref:.2f}x" if row[n] is not None and ref else "—" for n in others]
            lines.append(f"| {row['shape']} | {row['tokens']:,} | {ref:.2f} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
            for n, why in (row.get("failed") or {}).items():
                lines.append(f"|  | {n} did not render this shape: {why} |")
        lines.append("")
    return "\n".join(lines)


_COLORS = {"reference": "#1b7837", "reference_hf": "#7fbf7b", "hf": "#762a83", "prime": "#e08214", "tml": "#2166ac"}


def svg(r: dict[str, Any]) -> str:
    """ms against tokens per implementation (the 1/10/50-turn shapes), one panel per model, no
    plotting library needed."""
    w, h, pad, cols = 260, 190, 34, 5
    rows = -(-len(r["models"]) // cols)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * w}" height="{rows * h + 30}" font-family="sans-serif" '
             'font-size="10">', f'<text x="8" y="16" font-size="13">ms per generation prompt vs tokens ({r["date"]}, one core)</text>']
    for k, m in enumerate(r["models"]):
        x0, y0 = (k % cols) * w, 30 + (k // cols) * h
        pts = [row for row in m["rows"] if row["shape"].endswith("turns") and row.get("reference") is not None]
        if not pts:
            continue
        xmax = max(p["tokens"] for p in pts) or 1
        ymax = max(p[n] for p in pts for n in m["implementations"] if p.get(n) is not None) or 1
        sx = lambda t, x0=x0, xmax=xmax: x0 + pad + (w - 2 * pad) * t / xmax  # noqa: E731
        sy = lambda v, y0=y0, ymax=ymax: y0 + h - pad - (h - 2 * pad) * v / ymax  # noqa: E731
        parts.append(f'<text x="{x0 + pad}" y="{y0 + 14}">{m["model"]}</text>')
        parts.append(f'<polyline fill="none" stroke="#999" points="{x0 + pad},{y0 + pad - 10} {x0 + pad},{y0 + h - pad} '
                     f'{x0 + w - pad},{y0 + h - pad}"/>')
        parts.append(f'<text x="{x0 + 2}" y="{y0 + pad - 12}">{ymax:.0f} ms</text>')
        parts.append(f'<text x="{x0 + w - pad - 40}" y="{y0 + h - pad + 14}">{xmax:,} tok</text>')
        for j, name in enumerate(m["implementations"]):
            line = " ".join(f"{sx(p['tokens']):.1f},{sy(p[name]):.1f}" for p in pts if p.get(name) is not None)
            color = _COLORS.get(name, "#555")
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{line}"/>')
            parts.append(f'<text x="{x0 + pad + 4}" y="{y0 + pad + 4 + 11 * j}" fill="{color}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
