"""Helpers shared by the project's own tests (not by the installed conformance suite)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conformance.paths import fixtures_root

REPO_FIXTURES = fixtures_root()


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
