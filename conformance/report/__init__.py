"""The nightly parity report: every implementation x every model family x every check.

    conformance report --python tinker=.nox/peer-tinker/bin/python --python tml=.nox/peer-tml/bin/python
    conformance report render reports/latest/results.json

:mod:`~conformance.report.plan` lists the runs, :mod:`~conformance.report.runner` certifies them
(real ``pytest --renderer`` subprocesses, in each peer's own environment, two at a time),
:mod:`~conformance.report.results` keeps them compact, :mod:`~conformance.report.compare` lists
what changed since the previous report, and :mod:`~conformance.report.page_html` /
:mod:`~conformance.report.page_md` draw the pages. ``write_report`` puts ``results.json``,
``index.md`` and ``index.html`` in ``reports/nightly/<date>/`` and points ``reports/latest`` there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["write_report"]


def write_report(results: dict[str, Any], reports_root: Path, *, point_latest: bool = True) -> Path:
    """Write the three files for ``results`` and return their folder."""
    from conformance.report.page_html import render_html
    from conformance.report.page_md import render_markdown
    from conformance.report.results import save_results

    out = reports_root / "nightly" / results["date"]
    out.mkdir(parents=True, exist_ok=True)
    save_results(results, out / "results.json")
    (out / "index.md").write_text(render_markdown(results), encoding="utf-8")
    (out / "index.html").write_text(render_html(results), encoding="utf-8")
    if point_latest:
        latest = reports_root / "latest"
        if latest.is_symlink() or latest.is_file():
            latest.unlink()
        elif latest.is_dir():
            shutil.rmtree(latest)
        try:
            os.symlink(Path("nightly") / results["date"], latest, target_is_directory=True)
        except OSError:  # a file system without symlinks gets a copy
            shutil.copytree(out, latest)
    return out
