"""``conformance report``: run the parity report (whole or one shard), merge shards, or re-draw
its pages from a results file.

    conformance report [--impl NAME ...] [--model ID ...] [--python ENV=PATH ...] [--workers N] [--shard I/N]
    conformance report merge DIR [DIR ...] [--out DIR]
    conformance report render RESULTS_JSON
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run", "normalize_argv"]


#: The actions of ``conformance report`` (``run`` is the default).
ACTIONS = ("run", "merge", "render", "findings", "regroup")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="the nightly parity report: every implementation x model x check",
        description="The parity report: run it (whole, or one shard of it), merge shards into one report, or re-draw a "
                    "report's pages. 'conformance report' alone is 'conformance report run'.",
    )
    actions = p.add_subparsers(dest="action", metavar="{" + ",".join(ACTIONS) + "}")
    run = actions.add_parser("run", help="certify every implementation x model x variant and write the report",
                             description="Certify every implementation x model x variant (real pytest runs) and write "
                                         "results.json, index.md and index.html to OUT/nightly/DATE/.")
    _run_options(run)
    merge = actions.add_parser("merge", help="merge the partial results of every shard into one report",
                               description="Check that the partial results of --shard runs belong together (plan, date, "
                                           "snapshots, goldens, library versions) and write the report an unsharded run writes.")
    merge.add_argument("paths", nargs="+", metavar="DIR", help="the folders (or results.json files) of every shard")
    merge.add_argument("--out", default="reports", help="reports folder (default ./%(default)s): writes nightly/<date>/ and latest")
    merge.add_argument("--previous", metavar="RESULTS_JSON",
                       help="the report to compare with (default: the newest before the date in --out)")
    merge.add_argument("--no-latest", action="store_true", help="do not point reports/latest at this report")
    findings = actions.add_parser("findings", help="write each finding of an implementation as a bug report (Markdown)",
                                  description="Write one Markdown file per finding of an implementation, ready to paste into "
                                              "the library's issue tracker: title, class, environment, reproduction, expected vs "
                                              "actual ids decoded, and the standard's decision it rests on, if any. Where the "
                                              "reproduction compares ids or weights, a .py script beside it reproduces the "
                                              "finding with the library and transformers alone.")
    findings.add_argument("paths", nargs=1, metavar="RESULTS_JSON", help="a report's results.json")
    findings.add_argument("--impl", required=True, help="the implementation: prime, tinker, tml, reference")
    findings.add_argument("--out", default="findings", help="folder for the files (default ./%(default)s)")
    findings.add_argument("--format", default="md", choices=["md"], help="output format (%(default)s)")
    regroup = actions.add_parser("regroup", help="group a report's failing tests into findings again, from the kept full reports",
                                 description="Recompute every run's findings with this version's grouping from the full "
                                             "per-run reports a run kept (--keep-reports), compare with the previous report "
                                             "again and re-draw the pages: a better grouping without certifying again (test "
                                             "outcomes and verdicts stay the run's own).")
    regroup.add_argument("paths", nargs=1, metavar="RESULTS_JSON", help="a report's results.json (rewritten in place)")
    regroup.add_argument("--reports", required=True, metavar="DIR", help="the folder the run's --keep-reports wrote")
    regroup.add_argument("--previous", metavar="RESULTS_JSON",
                         help="the report to compare with (default: the newest before its date in the reports tree)")
    render = actions.add_parser("render", help="re-draw a report's pages from its results.json",
                                description="Re-draw index.html and index.md next to a results.json.")
    render.add_argument("paths", nargs=1, metavar="RESULTS_JSON", help="the results.json to draw")


def _run_options(p: Any) -> None:
    p.add_argument("--out", default="reports",
                   help="reports folder (default ./%(default)s): writes nightly/<date>/ and latest; with --shard, the partial's folder")
    p.add_argument("--impl", action="append", help="only this implementation (repeatable): reference, prime, tinker, tml")
    p.add_argument("--model", action="append", help="only this model id (repeatable)")
    p.add_argument("--python", action="append", default=[], metavar="ENV=PATH",
                   help="interpreter of a peer's own environment (tinker, tml); main is this interpreter")
    p.add_argument("--workers", type=int, default=2, help="certifications run at once (default %(default)s: this machine's cores)")
    p.add_argument("--examples", type=int, default=25, help="hypothesis examples per generated test (default %(default)s)")
    # Every failing generated test of a peer spends this much shrinking: 3 tests x ~50 peer runs.
    p.add_argument("--shrink-seconds", type=float, default=5, help="shrinking budget per generated failure (default %(default)s)")
    p.add_argument("--timeout", type=float, default=1200, help="seconds one certification may take (default %(default)s)")
    p.add_argument("--select", metavar="EXPR", help="only the suite's tests matching this pytest -k expression (a partial check)")
    p.add_argument("--shard", metavar="I/N",
                   help="run only shard I of N (time-balanced by the previous report) and write a partial results.json to --out")
    p.add_argument("--previous", metavar="RESULTS_JSON",
                   help="the report to compare with and to balance shards by (default: the newest before --date in --out)")
    p.add_argument("--keep-reports", metavar="DIR",
                   help="also keep each run's full pytest report (every test record) in DIR, to study its findings")
    p.add_argument("--date", help="report date (default: today, UTC)")
    p.add_argument("--no-latest", action="store_true", help="do not point reports/latest at this report")


def normalize_argv(argv: list[str]) -> list[str]:
    """``conformance report [options]`` is ``conformance report run [options]``."""
    if argv[:1] == ["report"] and (len(argv) == 1 or argv[1] not in (*ACTIONS, "-h", "--help")):
        return ["report", "run", *argv[1:]]
    return argv


def _pythons(values: list[str]) -> dict[str, str]:
    out = {"main": sys.executable}
    for v in values:
        env, sep, path = v.partition("=")
        if not sep or not path:
            raise SystemExit(f"conformance report: --python expects ENV=PATH, got {v!r}")
        # absolute, not resolved: a venv's python is a symlink whose target is outside the venv
        out[env] = str(Path(path).absolute())
    return out


def _previous(args: argparse.Namespace, root: Path, date: str) -> dict[str, Any] | None:
    from conformance.report.results import load_results, previous_results

    if args.previous:
        return load_results(Path(args.previous))
    return previous_results(root / "nightly", date)


def run(args: argparse.Namespace) -> int:
    from conformance.errors import ConformanceError

    try:
        if args.action == "render":
            return _render(args)
        if args.action == "regroup":
            return _regroup(args)
        if args.action == "merge":
            return _merge(args)
        if args.action == "findings":
            return _findings(args)
        return _run(args)
    except ConformanceError as e:
        print(f"conformance report: {e}", file=sys.stderr)
        return 2


def _regroup(args: argparse.Namespace) -> int:
    import json

    from conformance.report.compare import compare
    from conformance.report.results import kept_report_name, load_results, save_results
    from conformance.suite.findings import group_findings
    from conformance.suite.verdict import group_notes, note_records

    path = Path(args.paths[0])
    data = load_results(path)
    done, missing = 0, []
    for run in data["runs"]:
        if run.get("status") not in ("certified", "not_certified"):
            continue
        kept = Path(args.reports) / kept_report_name(run["implementation"], run["model"], run["variant"])
        if not kept.is_file():
            missing.append(kept.name)
            continue
        tests = [t for t in json.loads(kept.read_text(encoding="utf-8"))["tests"] if t.get("variant", run["variant"]) == run["variant"]]
        # As the session groups them (conformance.suite.verdict.judge), with this version's signatures.
        run["findings"] = [{**f.to_json(), "variant": run["variant"]} for f in group_findings(tests)]
        run["notes"] = [{**n, "variant": run["variant"]} for n in note_records(group_notes(tests))]
        done += 1
    if missing:
        raise SystemExit(f"conformance report regroup: no kept report for {len(missing)} run(s), e.g. {missing[0]} in {args.reports}")
    # reports/nightly/<date>/results.json: the reports tree is three levels up
    data["changes"] = compare(data, _previous(args, path.resolve().parent.parent.parent, data["date"]))
    save_results(data, path)
    print(f"conformance report: regrouped the findings of {done} run(s) in {path}")
    return _render(args)


def _render(args: argparse.Namespace) -> int:
    from conformance.report.page_html import render_html
    from conformance.report.page_md import render_markdown
    from conformance.report.results import load_results

    data = load_results(Path(args.paths[0]))
    folder = Path(args.paths[0]).parent
    (folder / "index.html").write_text(render_html(data), encoding="utf-8")
    (folder / "index.md").write_text(render_markdown(data), encoding="utf-8")
    print(f"wrote {folder / 'index.html'} and {folder / 'index.md'}")
    return 0


def _findings(args: argparse.Namespace) -> int:
    import re

    from conformance.report.findings import implementation_findings, issue_markdown
    from conformance.report.reproduce import reproduction_script
    from conformance.report.results import load_results

    data = load_results(Path(args.paths[0]))
    found = implementation_findings(data).get(args.impl)
    if found is None:
        raise SystemExit(f"conformance report findings: no runs of {args.impl!r} in {args.paths[0]}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scripts = 0
    for k, f in enumerate(found, 1):
        stem = f"{k:02d}-{f['class']}-" + re.sub(r"[^a-z0-9]+", "-", f["title"].lower()).strip("-")[:60]
        script = reproduction_script(args.impl, f, data)
        if script is not None:
            (out / f"{stem}.py").write_text(script, encoding="utf-8")
            scripts += 1
        (out / f"{stem}.md").write_text(issue_markdown(args.impl, f, data, script=script), encoding="utf-8")
    print(f"wrote {len(found)} finding(s) of {args.impl} to {out} ({scripts} with a script that needs only the library "
          "and transformers)")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from conformance.report import write_report
    from conformance.report.results import build_results, load_results
    from conformance.report.shards import merge_partials

    files = [Path(p) / "results.json" if Path(p).is_dir() else Path(p) for p in args.paths]
    runs, envs, header = merge_partials([load_results(f) for f in files])
    root = Path(args.out)
    date = header["date"]
    results = build_results(runs, envs, date=date, generated=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            duration_s=header["duration_s"], previous=_previous(args, root, date), machine=header.get("machine"))
    out = write_report(results, root, point_latest=not args.no_latest)
    print(f"conformance report: merged {len(files)} shard(s), {len(runs)} runs; wrote {out}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from conformance.report import write_report
    from conformance.report.plan import plan_jobs
    from conformance.report.results import build_results, save_results
    from conformance.report.runner import run_jobs
    from conformance.report.shards import assign_shards, parse_shard, previous_durations

    try:
        jobs = plan_jobs(args.impl, args.model)
        shard = parse_shard(args.shard) if args.shard else None
    except ValueError as e:
        raise SystemExit(f"conformance report: {e}") from None
    root = Path(args.out)
    date = args.date or dt.datetime.now(dt.timezone.utc).date().isoformat()
    # A shard's --out is its own folder: the previous report lives in the reports tree (--previous,
    # or ./reports by default), which the shard's output must not be mistaken for.
    previous = _previous(args, Path("reports") if shard else root, date)
    plan = [j.key for j in jobs]
    if shard:
        jobs = assign_shards(jobs, shard.count, previous_durations(previous))[shard.index - 1]
    started = time.time()
    where = f" (shard {shard} of a {len(plan)}-run plan)" if shard else ""
    print(f"conformance report: {len(jobs)} runs planned{where} ({sum(not j.not_served for j in jobs)} served), "
          f"{args.workers} at a time", flush=True)
    from conformance.options import SHRINK_SECONDS

    extra = [SHRINK_SECONDS.flag, str(args.shrink_seconds)] + (["-k", args.select] if args.select else [])
    runs, envs = run_jobs(jobs, _pythons(args.python), workers=args.workers, examples=args.examples, timeout=args.timeout,
                          extra_args=extra, keep_reports=Path(args.keep_reports) if args.keep_reports else None,
                          progress=lambda line: print(line, flush=True))
    generated = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    counts: dict[str, int] = {}
    for r in runs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    if shard:
        results = build_results(runs, envs, date=date, generated=generated, duration_s=time.time() - started, previous=None)
        results["shard"] = {"index": shard.index, "count": shard.count, "plan": plan, "jobs": [f"{r['implementation']}|{r['model']}|"
                                                                                              f"{r['variant']}" for r in runs]}
        save_results(results, root / "results.json")
        print(f"conformance report: shard {shard}: {summary} in {results['duration_s']:.0f} s; wrote {root / 'results.json'} "
              "(merge every shard with: conformance report merge DIR...)")
        return 0
    results = build_results(runs, envs, date=date, generated=generated, duration_s=time.time() - started, previous=previous)
    out = write_report(results, root, point_latest=not args.no_latest)
    ch = results["changes"]
    print(f"conformance report: {summary} in {results['duration_s']:.0f} s; "
          f"{len(ch['new_failures'])} new failures, {len(ch['fixed'])} fixed since {ch['previous'] or '(none)'}; wrote {out}")
    return 0
