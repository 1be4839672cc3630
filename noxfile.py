"""Sessions: tests, lint, typing, certify, peers, nightly, regenerate, verify."""

from __future__ import annotations

from pathlib import Path

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
    """Certify every reference renderer on every registered model and variant (empty xfails),
    TemplateRenderer included (CI certifies the hand-written ones only)."""
    session.install("-e", ".[dev]")
    session.run("pytest", "tests/test_reference_certified.py", "--template-renderer-runs", "-n", "2", *session.posargs)


#: peers that pin other library versions than the oracle's, each in its own environment
#: (torch pinned: the CPU wheel on this machine; an unpinned torch pulls a multi-GB CUDA build)
PEER_ENVS = {"tinker": ["tinker-cookbook", "torch==2.13.0"], "tml": ["tml-renderers", "torch==2.13.0"]}


@nox.session
@nox.parametrize("peer", list(PEER_ENVS))
def peers(session: nox.Session, peer: str) -> None:
    """The adapters against tinker-cookbook and tml-renderers, each in its own environment
    (tinker pins an older transformers/tokenizers than the oracle's; both need torch)."""
    session.install("-e", ".[dev]", *PEER_ENVS[peer])
    session.run("pytest", "tests/test_adapters.py", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def nightly(session: nox.Session) -> None:
    """The parity report: every implementation x model x variant x check, written to
    reports/nightly/<date>/ (results.json, index.md, index.html) and reports/latest.
    Reference renderers and Prime run in this session's environment; tinker-cookbook and
    tml-renderers each in their own (.nox/peer-<name>, reused between runs)."""
    session.install("-e", ".[dev]")
    pythons: list[str] = []
    for env, packages in PEER_ENVS.items():
        venv = Path(".nox").absolute() / f"peer-{env}"
        python = venv / "bin" / "python"
        if not python.exists():
            session.run("python", "-m", "venv", str(venv))
        session.run(str(python), "-m", "pip", "install", "-q", "-e", ".", *packages, external=True)
        pythons += ["--python", f"{env}={python}"]
    session.run("conformance", "report", *pythons, *session.posargs)
