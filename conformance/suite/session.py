"""Session wiring for an active run: context, parametrization, xfails, timeouts, summary, report."""

from __future__ import annotations

import json
import signal
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from conformance.plugin import (
    OPT_ADAPTER,
    OPT_CASES,
    OPT_EXAMPLES,
    OPT_MODEL,
    OPT_RENDERER,
    OPT_REPORT,
    OPT_SHRINK,
    OPT_TIMEOUT,
    OPT_VARIANT,
    OPT_XFAILS,
    option,
)
from conformance.suite.context import Context, SetupError, load_renderer

__all__ = ["activate", "SuitePlugin", "CAPABILITY_SKIP", "area_of"]

SUITE_DIR = Path(__file__).resolve().parent
#: Skip reasons starting with this mean "the renderer does not claim it"; anything else skipped
#: is a fact about the template (a case it cannot render).
CAPABILITY_SKIP = "capability not claimed:"
AREAS = ("template_parity", "loss_weights", "roundtrip", "extension", "bridge", "pickle",
         "stop_sequences", "injection", "generated")
_AREA_CAPABILITY = {"loss_weights": "supervised", "bridge": "bridge", "roundtrip": "parse"}


def area_of(nodeid: str) -> str:
    mod = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return mod[len("test_"):-len(".py")] if mod.startswith("test_") and mod.endswith(".py") else mod


def short_id(nodeid: str) -> str:
    """``test_template_parity.py::test_x[case]``: the id xfail prefixes are matched against."""
    return nodeid.rsplit("/", 1)[-1]


def activate(config: Any) -> None:
    from conformance.adapters import adapt
    from conformance.cases import extra_case_dirs, load_cases
    from conformance.errors import ConformanceError
    from conformance.registry import get_model

    spec = str(option(config, OPT_RENDERER))  # activate() runs only when --renderer is given
    model_id = option(config, OPT_MODEL)
    try:
        if not model_id:
            from conformance.registry import known_model_ids

            raise SetupError(f"{OPT_MODEL} is required with {OPT_RENDERER}; known model ids: {', '.join(known_model_ids())}")
        entry = get_model(model_id)
        requested = option(config, OPT_VARIANT)
        raw = load_renderer(spec, entry, requested)
        variant_name = requested or getattr(raw, "variant", None) or next(iter(entry.variants))
        variant = entry.variant(variant_name)
        try:
            adapted = adapt(raw, option(config, OPT_ADAPTER) or "auto", tokenizer=entry.tokenizer())
        except TypeError as e:
            raise SetupError(f"--renderer {spec!r}: {e}") from e
        cases = load_cases(extra_case_dirs(option(config, OPT_CASES)))
    except (SetupError, ConformanceError) as e:
        raise pytest.UsageError(f"conformance: {e}") from None
    ctx = Context(spec=spec, entry=entry, variant=variant, renderer=adapted, raw=raw, cases=cases,
                  examples=int(option(config, OPT_EXAMPLES) or 25))
    plugin = SuitePlugin(config, ctx)
    config.pluginmanager.register(plugin, "conformance-suite")
    from conformance.suite import fixtures as suite_fixtures

    config.pluginmanager.register(suite_fixtures, "conformance-suite-fixtures")
    # Collect the installed suite, not the current directory's tests; explicit paths stay.
    explicit = [a for a in config.args if config.args_source == pytest.Config.ArgsSource.ARGS]
    config.args[:] = [str(SUITE_DIR)] + [a for a in explicit if Path(a.split("::")[0]).resolve() != SUITE_DIR]
    shrink = option(config, OPT_SHRINK)
    _hypothesis_profile(ctx.examples, float(shrink) if shrink else None)


def _hypothesis_profile(examples: int, shrink_seconds: float | None) -> None:
    from conformance.strategies import register_profile

    register_profile(examples, shrink_seconds=shrink_seconds)


class SuitePlugin:
    def __init__(self, config: Any, ctx: Context):
        self.config = config
        self.ctx = ctx
        self.xfails = self._read_xfails(option(config, OPT_XFAILS))
        self.used_xfails: set[str] = set()
        self.timeout = float(option(config, OPT_TIMEOUT) or 120)
        self.records: list[dict[str, Any]] = []
        self.started = time.time()

    # ---- xfails ---------------------------------------------------------------------------
    @staticmethod
    def _read_xfails(path: str | None) -> dict[str, str]:
        if not path:
            return {}
        out = {}
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            entry, _, comment = line.partition("#")
            entry = entry.strip()
            if entry:
                out[entry] = comment.strip() or "listed in the xfails file"
        return out

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        for item in items:
            sid = short_id(item.nodeid)
            for prefix, why in self.xfails.items():
                if sid.startswith(prefix):
                    self.used_xfails.add(prefix)
                    item.add_marker(pytest.mark.xfail(reason=f"xfails file: {why}", strict=True))
                    break
        for prefix in sorted(set(self.xfails) - self.used_xfails):
            warnings.warn(f"conformance xfails entry {prefix!r} matches no test", pytest.PytestWarning, stacklevel=1)

    # ---- per-test timeout ------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: Any) -> Any:
        if not hasattr(signal, "SIGALRM"):
            return (yield)

        def on_alarm(signum: int, frame: Any) -> None:
            raise TimeoutError(f"renderer did not finish within {self.timeout:g}s ({OPT_TIMEOUT})")

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    def pytest_runtest_setup(self, item: Any) -> None:
        from conformance.suite.evidence import set_current_item

        set_current_item(item)

    # ---- results ---------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            outcome = report.outcome
            if hasattr(report, "wasxfail"):
                outcome = "xfailed" if report.skipped else "xpassed"
            reason = ""
            if report.skipped and isinstance(report.longrepr, tuple):
                reason = str(report.longrepr[2])
            elif report.failed:
                reason = (report.longreprtext or "")[-2000:]
            case = report.nodeid.rsplit("[", 1)[1][:-1] if report.nodeid.endswith("]") else ""
            record = {
                "nodeid": short_id(report.nodeid), "area": area_of(report.nodeid), "case": case,
                "outcome": outcome if report.when == "call" else ("error" if report.failed else outcome),
                "reason": reason, "duration": round(report.duration, 4),
            }
            if report.failed:
                from conformance.suite.evidence import divergence_of

                div = divergence_of(report)
                if div is not None:
                    record["divergence"] = div
            self.records.append(record)

    def summary(self) -> tuple[dict[str, dict[str, int]], list[str], str]:
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in self.records:
            counts[r["area"]][r["outcome"]] += 1
        problems = []
        caps = self.ctx.renderer.capabilities
        for area in AREAS:
            c = counts.get(area, {})
            if c.get("failed") or c.get("error") or c.get("xpassed"):
                problems.append(f"{area}: {c.get('failed', 0) + c.get('error', 0) + c.get('xpassed', 0)} failing")
            cap = _AREA_CAPABILITY.get(area)
            claimed = cap is None or getattr(caps, cap, True)
            if claimed and area in counts and not c.get("passed") and not c.get("xfailed"):
                problems.append(f"{area}: nothing passed although the capability is claimed")
        verdict = "CERTIFIED" if not problems and self.records else "NOT CERTIFIED"
        return counts, problems, verdict

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        counts, problems, verdict = self.summary()
        tr = terminalreporter
        tr.section(f"conformance: {self.ctx.spec} on {self.ctx.entry.model_id} [{self.ctx.variant.name}]")
        cols = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
        tr.write_line(f"{'area':<16}" + "".join(f"{c:>9}" for c in cols))
        for area in AREAS:
            if area in counts:
                tr.write_line(f"{area:<16}" + "".join(f"{counts[area].get(c, 0):>9}" for c in cols))
        for p in problems:
            tr.write_line(f"  - {p}")
        tr.write_line(f"verdict: {verdict}", bold=True, green=verdict == "CERTIFIED", red=verdict != "CERTIFIED")

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        path = option(self.config, OPT_REPORT)
        if not path or hasattr(self.config, "workerinput"):  # xdist workers report to the controller
            return
        counts, problems, verdict = self.summary()
        data = {
            "schema_version": 1,
            "metadata": self.ctx.metadata(),
            "duration_s": round(time.time() - self.started, 2),
            "verdict": verdict,
            "problems": problems,
            "areas": {a: dict(c) for a, c in counts.items()},
            "tests": sorted(self.records, key=lambda r: r["nodeid"]),
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
