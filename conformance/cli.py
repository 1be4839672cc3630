"""The ``conformance`` command: a thin front end over the fixtures tools and the pytest suite.

    conformance fixtures list | verify | regenerate [--model ID] | import DIR --model-id ID --revision REV
    conformance certify SPEC --model ID [pytest options...]
    conformance report [run | render RESULTS] [--impl NAME] [--python ENV=PATH] ...
"""

from __future__ import annotations

import argparse
import sys

from conformance import __version__, fixtures_cli
from conformance.report import cli as report_cli

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (tests check that the commands the CI workflows run exist)."""
    parser = argparse.ArgumentParser(prog="conformance", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"renderer-conformance {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    fixtures_cli.add_parser(sub)
    report_cli.add_parser(sub)
    c = sub.add_parser("certify", help="run the conformance suite against a renderer (same as pytest --renderer)")
    c.add_argument("spec", help="module:attr of a renderer instance, class or factory")
    c.add_argument("--model", required=True, help="model id from fixtures/models.toml")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.cmd == "fixtures":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return fixtures_cli.run(args)
    if args.cmd == "report":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return report_cli.run(args)
    import pytest

    return int(pytest.main(["--renderer", args.spec, "--model", args.model, *rest]))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
