"""Sessions: tests, lint, typing, certify, peers, regenerate, verify."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "conformance", "reference_renderers", "tests")


@nox.session
def typing(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "conformance")


@nox.session
def verify(session: nox.Session) -> None:
    """Re-derive every golden from the snapshots and compare (what CI's tests also do)."""
    session.install("-e", ".")
    session.run("conformance", "fixtures", "verify")


@nox.session
def regenerate(session: nox.Session) -> None:
    """Rewrite goldens (then review `git diff fixtures/golden`)."""
    session.install("-e", ".")
    session.run("conformance", "fixtures", "regenerate", *session.posargs)


@nox.session
def certify(session: nox.Session) -> None:
    """Certify every reference renderer on every registered model and variant (empty xfails)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "tests/test_reference_certified.py", *session.posargs)


@nox.session
def peers(session: nox.Session) -> None:
    """The adapters against tinker-cookbook, in its own environment: it pins an older
    transformers/tokenizers than the oracle's, and needs torch (pinned: a CPU wheel)."""
    session.install("-e", ".[dev]", "tinker-cookbook", "torch==2.13.0")
    session.run("pytest", "tests/test_adapters.py", "-p", "no:cacheprovider", *session.posargs)
