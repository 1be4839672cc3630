"""Run planned certifications: one real ``pytest --renderer ... --model ...`` per job, in the
interpreter of the job's environment, several at once.

Each job runs in an empty working directory (no project's ``conftest``/``pytest.ini`` applies) and
writes its ``--conformance-report``; the runner turns that into a compact run record
(:func:`conformance.report.results.compact_run`). A start-up error (pytest exit 4: a renderer that
cannot be built for this model, a peer paired with the wrong tokenizer) is a ``config_error`` with
its one-line message; a job that leaves no report is ``crashed`` with the tail of its output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from conformance.options import EXAMPLES, MODEL, RENDERER, REPORT, VARIANT
from conformance.report.plan import Job, all_implementations
from conformance.report.results import compact_run, kept_report_name

__all__ = ["run_jobs", "probe_environment"]

#: pytest's exit code for a usage error: how the plugin reports a start-up problem
_USAGE_ERROR = 4
#: Each job gets one core: the runner already runs one job per core, and thread pools in every
#: job (torch's OpenMP in the peers, the Rust tokenizers' rayon) would otherwise fight for them,
#: which measured here as 10x slower generated tests and most of the time spent in the kernel.
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
#: One hypothesis storage folder for every job (each runs in a fresh folder): hypothesis caches
#: there the constants it collects from the source of every loaded module, which for a process
#: that imports torch (tinker, tml) took 110 s per job instead of 9 s when done afresh each time.
_HYPOTHESIS_STORAGE = Path(tempfile.gettempdir()) / "conformance-hypothesis"


def probe_environment(python: str, library: str, distribution: str) -> dict[str, Any]:
    """Is ``library`` importable by ``python``, and which versions does that environment hold?"""
    code = (
        "import importlib, json, platform, sys\n"
        "from importlib import metadata as md\n"
        f"lib, dist = {library!r}, {distribution!r}\n"
        "out = {'python': platform.python_version(), 'executable': sys.executable}\n"
        "try:\n"
        "    lib and importlib.import_module(lib)\n"
        "    out['ok'] = True\n"
        "except Exception as e:\n"
        "    out['ok'] = False; out['error'] = f'{type(e).__name__}: {e}'\n"
        "for d in sorted({dist, 'renderer-conformance', 'transformers', 'tokenizers', 'jinja2', 'hypothesis', 'pytest'} - {''}):\n"
        "    try:\n"
        "        out[d] = md.version(d)\n"
        "    except md.PackageNotFoundError:\n"
        "        out[d] = 'not installed'\n"
        "print(json.dumps(out))\n"
    )
    try:
        p = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"ok": False, "error": f"{type(e).__name__}: {e}", "executable": python}
    if p.returncode != 0:
        return {"ok": False, "error": (p.stderr or p.stdout).strip()[-500:], "executable": python}
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


def _config_message(output: str) -> str:
    for line in output.splitlines():
        if "conformance:" in line:
            return line.split("conformance:", 1)[1].strip()
    tail = [ln for ln in output.strip().splitlines() if ln.strip()]
    return tail[-1] if tail else "pytest reported a usage error"


def _run_one(job: Job, python: str, examples: int, timeout: float, keep: Path | None = None) -> dict[str, Any]:
    base = {"implementation": job.implementation, "model": job.model, "variant": job.variant, "spec": job.spec}
    with tempfile.TemporaryDirectory(prefix="conformance-run-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", RENDERER.flag, job.spec, MODEL.flag, job.model,
               VARIANT.flag, job.variant, REPORT.flag, str(report), EXAMPLES.flag, str(examples), *job.extra_args]
        started = time.time()
        try:
            env = {**os.environ, **_ONE_THREAD, "HYPOTHESIS_STORAGE_DIRECTORY": str(_HYPOTHESIS_STORAGE)}
            p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout, env=env)
            output, code = p.stdout + p.stderr, p.returncode
        except OSError as e:  # the interpreter itself is missing or not executable
            return {**base, "status": "crashed", "message": f"cannot start {python}: {e}", "duration_s": 0.0}
        except subprocess.TimeoutExpired as e:
            output = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            return {**base, "status": "crashed", "message": f"did not finish within {timeout:g}s",
                    "duration_s": round(time.time() - started, 1), "output_tail": output[-1500:]}
        duration = round(time.time() - started, 1)
        if code == _USAGE_ERROR and not report.is_file():
            return {**base, "status": "config_error", "message": _config_message(output), "duration_s": duration}
        if not report.is_file():
            return {**base, "status": "crashed", "message": f"pytest exited {code} without a report", "duration_s": duration,
                    "output_tail": output[-1500:]}
        if keep is not None:
            # The full report (every test record with its divergence): findings can be studied
            # and regrouped offline without re-running the certification.
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(report, keep / kept_report_name(job.implementation, job.model, job.variant))
        run = compact_run(json.loads(report.read_text(encoding="utf-8")))
        return {**base, **run, "duration_s": duration, "exit_code": code}


def run_jobs(
    jobs: list[Job],
    pythons: dict[str, str],
    *,
    workers: int = 2,
    examples: int = 25,
    timeout: float = 1200,
    extra_args: list[str] | None = None,
    keep_reports: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run every job; returns (runs in job order, environments probed).

    ``pythons`` maps an environment key (``main``, ``tinker``, ``tml``) to an interpreter. An
    implementation whose environment is missing, or cannot import its library, gets one
    ``not_installed`` run per pair: the report says what it could not certify.
    """
    envs: dict[str, Any] = {}
    known = all_implementations()
    for name in sorted({j.implementation for j in jobs}):
        impl = known[name]
        python = pythons.get(impl.env)
        envs[name] = (probe_environment(python, impl.library, impl.distribution) if python
                      else {"ok": False, "error": f"no interpreter given for environment {impl.env!r} (--python {impl.env}=PATH)"})
        envs[name]["env"] = impl.env
    results: dict[str, dict[str, Any]] = {}
    runnable = []
    for j in jobs:
        base = {"implementation": j.implementation, "model": j.model, "variant": j.variant, "spec": j.spec}
        if j.not_served:
            results[j.key] = {**base, "status": "not_served", "message": j.not_served}
        elif not envs[j.implementation].get("ok"):
            results[j.key] = {**base, "status": "not_installed", "message": envs[j.implementation].get("error", "")}
        else:
            runnable.append(j)

    def work(j: Job) -> tuple[str, dict[str, Any]]:
        if extra_args:
            j = Job(j.implementation, j.model, j.variant, j.spec, j.not_served, [*j.extra_args, *extra_args])
        r = _run_one(j, pythons[known[j.implementation].env], examples, timeout, keep_reports)
        if progress:
            progress(f"{r['status']:<14} {r.get('duration_s', 0):>6}s  {j.implementation} {j.model} [{j.variant}]")
        return j.key, r

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for key, r in pool.map(work, runnable):
            results[key] = r
    return [results[j.key] for j in jobs], envs
