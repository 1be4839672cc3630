"""``conformance report``: run the parity report, or re-draw its pages from a results file.

    conformance report [--impl NAME ...] [--model ID ...] [--python ENV=PATH ...] [--workers N]
    conformance report render RESULTS_JSON [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="the nightly parity report: every implementation x model x check")
    p.add_argument("action", nargs="?", default="run", choices=["run", "render"], help="run (default) or render")
    p.add_argument("results", nargs="?", help="render: the results.json to draw")
    p.add_argument("--out", default="reports", help="reports folder (default ./reports): writes nightly/<date>/ and latest")
    p.add_argument("--impl", action="append", help="only this implementation (repeatable): reference, prime, tinker, tml")
    p.add_argument("--model", action="append", help="only this model id (repeatable)")
    p.add_argument("--python", action="append", default=[], metavar="ENV=PATH",
                   help="interpreter of a peer's own environment (tinker, tml); main is this interpreter")
    p.add_argument("--workers", type=int, default=2, help="certifications run at once (default 2: this machine's cores)")
    p.add_argument("--examples", type=int, default=25, help="hypothesis examples per generated test (default 25)")
    # Every failing generated test of a peer spends this much shrinking: 3 tests x ~50 peer runs.
    p.add_argument("--shrink-seconds", type=float, default=5, help="shrinking budget per generated failure (default 5)")
    p.add_argument("--timeout", type=float, default=1200, help="seconds one certification may take (default 1200)")
    p.add_argument("--date", help="report date (default: today, UTC)")
    p.add_argument("--no-latest", action="store_true", help="do not point reports/latest at this report")


def _pythons(values: list[str]) -> dict[str, str]:
    out = {"main": sys.executable}
    for v in values:
        env, sep, path = v.partition("=")
        if not sep or not path:
            raise SystemExit(f"conformance report: --python expects ENV=PATH, got {v!r}")
        # absolute, not resolved: a venv's python is a symlink whose target is outside the venv
        out[env] = str(Path(path).absolute())
    return out


def run(args: argparse.Namespace) -> int:
    from conformance.report import write_report
    from conformance.report.results import build_results, load_results, previous_results

    root = Path(args.out)
    if args.action == "render":
        if not args.results:
            raise SystemExit("conformance report render: give the results.json to draw")
        from conformance.report.page_html import render_html
        from conformance.report.page_md import render_markdown

        data = load_results(Path(args.results))
        folder = Path(args.results).parent
        (folder / "index.html").write_text(render_html(data), encoding="utf-8")
        (folder / "index.md").write_text(render_markdown(data), encoding="utf-8")
        print(f"wrote {folder / 'index.html'} and {folder / 'index.md'}")
        return 0
    from conformance.report.plan import plan_jobs
    from conformance.report.runner import run_jobs

    try:
        jobs = plan_jobs(args.impl, args.model)
    except ValueError as e:
        raise SystemExit(f"conformance report: {e}") from None
    date = args.date or dt.datetime.now(dt.timezone.utc).date().isoformat()
    started = time.time()
    print(f"conformance report: {len(jobs)} runs planned ({sum(not j.not_served for j in jobs)} served), {args.workers} at a time",
          flush=True)
    runs, envs = run_jobs(jobs, _pythons(args.python), workers=args.workers, examples=args.examples, timeout=args.timeout,
                          extra_args=["--conformance-shrink-seconds", str(args.shrink_seconds)],
                          progress=lambda line: print(line, flush=True))
    results = build_results(runs, envs, date=date, generated=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            duration_s=time.time() - started, previous=previous_results(root / "nightly", date))
    out = write_report(results, root, point_latest=not args.no_latest)
    counts: dict[str, int] = {}
    for r in runs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    ch = results["changes"]
    print(f"conformance report: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))} in {results['duration_s']:.0f} s; "
          f"{len(ch['new_failures'])} new failures, {len(ch['fixed'])} fixed since {ch['previous'] or '(none)'}; wrote {out}")
    return 0
