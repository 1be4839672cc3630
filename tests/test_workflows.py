"""The GitHub workflows users run the nightly report and fixture imports with: valid against the
GitHub workflow JSON schema (vendored in check-jsonschema, so offline), and every ``conformance ...``
and ``nox -s ...`` command they run exists with the options it is given."""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
#: nox sessions whose posargs go to a conformance subcommand (so those are checked too)
NOX_POSARGS = {"nightly": ["report"], "regenerate": ["fixtures", "regenerate"]}


def _yaml(path: Path) -> Any:
    from ruamel.yaml import YAML  # check-jsonschema's YAML reader

    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _commands(workflow: Any) -> list[list[str]]:
    """Every ``conformance`` / ``nox`` command line of every ``run:`` step, expressions and shell
    variables replaced by a placeholder value."""
    out = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                line = re.sub(r"\$\{\{[^}]*\}\}", "X", line)
                line = re.sub(r"\"?\$[A-Z_]+\"?", "X", line)
                # A command starts a line, or follows a pipe, &&, ; or $( and runs to the next of these.
                for m in re.finditer(r"(?:^|[|;&(]\s*)((?:conformance|nox) [^|;&)>]*)", line.strip()):
                    out.append(shlex.split(m.group(1).strip().rstrip('"')))
    return out


@functools.cache
def _nox_sessions() -> frozenset[str]:
    import runpy
    import warnings

    import nox.registry

    with warnings.catch_warnings():  # another test may have loaded noxfile.py in this process already
        warnings.simplefilter("ignore", FutureWarning)
        runpy.run_path(str(REPO / "noxfile.py"))
    return frozenset(nox.registry.get())


def _check_conformance(argv: list[str]) -> None:
    from conformance.cli import build_parser
    from conformance.report.cli import normalize_argv

    parser = build_parser()
    try:
        args, rest = parser.parse_known_args(normalize_argv(argv))
    except SystemExit:
        pytest.fail(f"`conformance {' '.join(argv)}` is not a valid command line")
    if rest and args.cmd != "certify":  # certify passes the rest to pytest
        pytest.fail(f"`conformance {' '.join(argv)}` is not a valid command line: unknown {rest}")


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflow_validates_against_the_github_schema(path):
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_every_command_a_workflow_runs_exists(path):
    commands = _commands(_yaml(path))
    assert commands, f"{path.name} runs no conformance or nox command"
    sessions = _nox_sessions()
    for words in commands:
        if words[0] == "conformance":
            _check_conformance(words[1:])
            continue
        assert words[1] == "-s", f"nox without -s: {words}"
        session = words[2]
        assert session in sessions, f"`nox -s {session}` is not a session of noxfile.py ({sorted(sessions)})"
        if "--" in words and session in NOX_POSARGS:
            _check_conformance(NOX_POSARGS[session] + words[words.index("--") + 1 :])


def test_the_checker_itself_catches_a_bad_workflow_and_a_missing_command(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: nox -s nosuch\n    bogus: 1\n")
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert [["nox", "-s", "nosuch"]] == _commands(_yaml(bad))
    assert "nosuch" not in _nox_sessions()
    with pytest.raises(pytest.fail.Exception, match="not a valid command line"):
        _check_conformance(["report", "--no-such-option"])
