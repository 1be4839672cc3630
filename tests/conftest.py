"""Helpers shared by the project's own tests (not by the installed conformance suite)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conformance.fixtures.paths import fixtures_root

REPO_FIXTURES = fixtures_root()

#: Tests marked ``template_renderer_runs`` (the oracle-backed TemplateRenderer certified on every
#: model) prove little in CI, where parity holds by construction; ``nox -s certify`` runs them.
TEMPLATE_RUNS_OPTION = "--template-renderer-runs"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(TEMPLATE_RUNS_OPTION, action="store_true", default=False,
                     help="also certify TemplateRenderer on every model (nox -s certify)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption(TEMPLATE_RUNS_OPTION):
        return
    deselected = [i for i in items if i.get_closest_marker("template_renderer_runs")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if not i.get_closest_marker("template_renderer_runs")]


def make_fixture_tree(tmp: Path, snapshots: list[str], *, goldens: bool = True) -> Path:
    """A private copy of the fixtures with only ``snapshots`` (and their goldens), for tests that
    tamper with or import files. Copies, never links: tests write into it."""
    root = tmp / "fixtures"
    root.mkdir()
    for name in ("models.toml",):
        shutil.copy(REPO_FIXTURES / name, root / name)
    for d in ("schema", "conversations", "vocab"):
        shutil.copytree(REPO_FIXTURES / d, root / d)
    for s in snapshots:
        shutil.copytree(REPO_FIXTURES / "tokenizers" / s, root / "tokenizers" / s)
        if goldens:
            shutil.copytree(REPO_FIXTURES / "golden" / s, root / "golden" / s)
    return root


@pytest.fixture
def fixture_tree(tmp_path: Path):
    return lambda snapshots, **kw: make_fixture_tree(tmp_path, snapshots, **kw)
