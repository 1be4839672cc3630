"""Sessions: tests, lint, typing, certify, peers, nightly, bench, regenerate, verify."""

from __future__ import annotations

import sys
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


def _peer_envs() -> dict[str, list[str]]:
    """Peers that pin other library versions than the oracle's, each in its own environment, from
    their records (conformance/peers.py: torch pinned there, the CPU wheel on this machine; an
    unpinned torch pulls a multi-GB CUDA build). Read from this checkout: nox may run without
    the package installed (CI installs nox alone)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from conformance.peers import PEERS
    finally:
        sys.path.pop(0)
    return {p.name: list(p.install) for p in PEERS.values() if p.install}


PEER_ENVS = _peer_envs()


@nox.session
@nox.parametrize("peer", list(PEER_ENVS))
def peers(session: nox.Session, peer: str) -> None:
    """The adapters against each peer that has its own environment (tinker-cookbook pins an older
    transformers/tokenizers than the oracle's; tinker-cookbook and tml-renderers need torch)."""
    session.install("-e", ".[dev]", *PEER_ENVS[peer])
    session.run("pytest", "tests/test_adapters.py", "-p", "no:cacheprovider", *session.posargs)


def _peer_python(session: nox.Session, env: str, packages: list[str]) -> str:
    """The interpreter of a peer's own environment (.nox/peer-<env>, created once, reused), with
    this checkout and the peer's packages installed."""
    venv = Path(".nox").absolute() / f"peer-{env}"
    python = venv / "bin" / "python"
    if not python.exists():
        session.run("python", "-m", "venv", str(venv))
    session.run(str(python), "-m", "pip", "install", "-q", "-e", ".", *packages, external=True)
    return str(python)


@nox.session
def bench(session: nox.Session) -> None:
    """Generation-prompt speed on every family (benchmarks/bench_families.py): once here (reference,
    HF, Prime) and once in each peer's own environment (tinker-cookbook, tml-renderers), each
    written to reports/benchmarks/<date>/families[-<env>-env].{json,md,svg}."""
    session.install("-e", ".[dev]")
    session.run("python", "benchmarks/bench_families.py", *session.posargs)
    for env, packages in PEER_ENVS.items():
        python = _peer_python(session, env, packages)
        session.run(python, "benchmarks/bench_families.py", "--suffix", f"{env}-env", *session.posargs, external=True)


@nox.session
def nightly(session: nox.Session) -> None:
    """The parity report: every implementation x model x variant x check, written to
    reports/nightly/<date>/ (results.json, index.md, index.html) and reports/latest.
    Reference renderers and peers without an environment of their own (Prime) run in this
    session's; the others each in their own (.nox/peer-<name>, reused between runs)."""
    session.install("-e", ".[dev]")
    pythons: list[str] = []
    for env, packages in PEER_ENVS.items():
        pythons += ["--python", f"{env}={_peer_python(session, env, packages)}"]
    session.run("conformance", "report", *pythons, *session.posargs)
