"""The renderer author's guide (docs/writing-a-renderer.md) followed from an empty folder: its
renderer written as shown, its certification command run as shown, CERTIFIED on every variant."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "writing-a-renderer.md"


def _block(section: str, lang: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    part = text[text.index(section):]
    m = re.search(rf"```{lang}\n(.*?)```", part, re.DOTALL)
    assert m, f"no {lang} block in {section!r}"
    return m.group(1)


@pytest.mark.slow
def test_the_guide_certifies_its_own_renderer_from_an_empty_folder(tmp_path):
    code = _block("## 3. A renderer", "python")
    assert len(code.splitlines()) <= 60, "the guide's renderer stays small"
    (tmp_path / "my_renderer.py").write_text(code, encoding="utf-8")
    command = _block("## 4. Certify it", "bash").strip()
    assert command.startswith("PYTHONPATH=. pytest --renderer my_renderer:MyQwen3Renderer")
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    env.pop("PYTHONPATH", None)
    out = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "verdict [thinking]: CERTIFIED" in out.stdout and "verdict [no_thinking]: CERTIFIED" in out.stdout
    assert "refused 2 case(s) the template renders lossily (allowed)" in out.stdout  # what the guide says
    # Nothing but the user's own file (and Python's cache of it) is left in the folder.
    assert {p.name for p in tmp_path.iterdir()} - {"__pycache__"} == {"my_renderer.py"}
