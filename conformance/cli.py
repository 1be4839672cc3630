"""The ``conformance`` command: a thin front end over the fixtures tools and the pytest suite.

    conformance fixtures list | verify | regenerate [--model ID] | import DIR --model-id ID --revision REV
    conformance certify SPEC --model ID [conformance and pytest options...]
    conformance report [run] [--impl NAME] [--python ENV=PATH] [--shard I/N] ... | merge DIR... | render RESULTS
"""


from __future__ import annotations

import argparse
import sys

from conformance import __version__
from conformance.fixtures import cli as fixtures_cli
from conformance.report import cli as report_cli

__all__ = ["main", "build_parser"]

#: the top-level help's description (plain text: argparse shows it as written)
DESCRIPTION = ("Certify chat-template renderers against golden token fixtures: manage the fixtures, certify one "
               "renderer, or run the parity report over every implementation.")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (tests check that the commands the CI workflows run exist)."""
    parser = argparse.ArgumentParser(prog="conformance", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"renderer-conformance {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    fixtures_cli.add_parser(sub)
    report_cli.add_parser(sub)
    c = sub.add_parser("certify", help="run the conformance suite against a renderer (same as pytest --renderer)",
                       description="Run the conformance suite against a renderer: the same as pytest --renderer SPEC --model ID. "
                                   "Any other option is passed to pytest as it is (-k EXPR, -n 2, -x, ...).")
    c.add_argument("spec", help="module:attr of a renderer instance, class, factory or callable")
    c.add_argument("--model", required=True, help="model id from fixtures/models.toml")
    from conformance.options import MODEL, OPTIONS, RENDERER

    for opt in OPTIONS:
        if opt not in (RENDERER, MODEL):
            c.add_argument(opt.flag, dest=opt.dest, default=None, help=opt.help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(report_cli.normalize_argv(list(sys.argv[1:] if argv is None else argv)))
    if args.cmd == "fixtures":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return fixtures_cli.run(args)
    if args.cmd == "report":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return report_cli.run(args)
    import pytest

    from conformance.options import MODEL, OPTIONS, RENDERER

    passed = [x for opt in OPTIONS if opt not in (RENDERER, MODEL) and getattr(args, opt.dest) is not None
              for x in (opt.flag, str(getattr(args, opt.dest)))]
    # This command imported the conformance package itself, so pytest cannot rewrite asserts in the
    # plugin's package; nothing there relies on it (the suite's test modules are rewritten as usual).
    quiet = ["-W", "ignore:Module already imported so cannot be rewritten; conformance:pytest.PytestAssertRewriteWarning"]
    return int(pytest.main(["--renderer", args.spec, "--model", args.model, *passed, *quiet, *rest]))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
