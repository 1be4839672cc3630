"""Session wiring for an active run: one context per variant, parametrization, xfails, timeouts,
the summary with one verdict per variant, and the JSON report.

With ``--conformance-variant all`` every variant of the model is certified in one process (the
tokenizer and the goldens' manifest are loaded once); test ids then carry the variant as their
first parameter (``test_x[no_thinking-basic-single-turn]``), while xfails entries and report
records use the id without it, with the variant as a field of their own.
"""

from __future__ import annotations

import json
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from conformance import options as O
from conformance.suite.areas import AREAS, REFUSED, area_of
from conformance.suite.context import Context, SetupError, load_renderer
from conformance.suite.verdict import OUTCOMES, Verdict, judge

__all__ = ["activate", "SuitePlugin", "short_id", "VARIANT_PROPERTY", "ID_PROPERTY"]

SUITE_DIR = Path(__file__).resolve().parent
#: user_properties keys set on every suite item at collection; they ride on the test reports
#: (through pytest-xdist too) so the controller knows each record's variant and plain id.
VARIANT_PROPERTY = "conformance_variant"
ID_PROPERTY = "conformance_id"
EXCEPTION_PROPERTY = "conformance_exception"  # "Type: message" of an exception a test raised
CASE_PROPERTY = "conformance_case"  # the case id of a parametrized test ("" for tests of no one case)


def short_id(nodeid: str) -> str:
    """``test_template_parity.py::test_x[case]``: the id xfail prefixes are matched against."""
    return nodeid.rsplit("/", 1)[-1]


def _plain_id(sid: str, variant: str) -> str:
    """The short id without the variant parameter of an ``all`` run."""
    head, sep, params = sid.partition("[")
    if not sep:
        return sid
    params = params[:-1]
    if params == variant:
        return head
    if params.startswith(variant + "-"):
        return f"{head}[{params[len(variant) + 1:]}]"
    return sid


def activate(config: Any) -> None:
    from conformance.errors import ConformanceError
    from conformance.fixtures.cases import extra_case_dirs, load_cases
    from conformance.fixtures.registry import get_model

    spec = str(O.value(config, O.RENDERER))  # activate() runs only when --renderer is given
    model_id = O.value(config, O.MODEL)
    try:
        if not model_id:
            from conformance.fixtures.registry import known_model_ids

            raise SetupError(f"{O.MODEL.flag} is required with {O.RENDERER.flag}; known model ids: {', '.join(known_model_ids())}")
        entry = get_model(model_id)
        cases = load_cases(extra_case_dirs(O.value(config, O.CASES)))
        examples = O.value(config, O.EXAMPLES)
        requested = O.value(config, O.VARIANT)
        if requested == O.ALL_VARIANTS:
            contexts = [_context(spec, entry, name, config, cases, examples, every=True) for name in entry.variants]
        else:
            contexts = [_context(spec, entry, requested, config, cases, examples, every=False)]
        if not config.option.collectonly:
            from conformance.suite.smoke import smoke_check

            for ctx in contexts:
                problem = smoke_check(ctx)
                if problem:
                    raise SetupError(problem)
    except (SetupError, ConformanceError, ValueError) as e:
        raise pytest.UsageError(f"conformance: {e}") from None
    plugin = SuitePlugin(config, contexts)
    config.pluginmanager.register(plugin, "conformance-suite")
    from conformance.suite import fixtures as suite_fixtures

    config.pluginmanager.register(suite_fixtures, "conformance-suite-fixtures")
    # Collect the installed suite, not the current directory's tests; explicit paths stay.
    explicit = [a for a in config.args if config.args_source == pytest.Config.ArgsSource.ARGS]
    config.args[:] = [str(SUITE_DIR)] + [a for a in explicit if Path(a.split("::")[0]).resolve() != SUITE_DIR]
    _keep_hypothesis_out_of_the_working_directory()
    _keep_pytest_cache_out_of_the_working_directory(config)
    from conformance.strategies import register_profile

    register_profile(examples, shrink_seconds=min(O.value(config, O.SHRINK_SECONDS), plugin.timeout / 3))


def _keep_pytest_cache_out_of_the_working_directory(config: Any) -> None:
    """pytest's cache (``.pytest_cache``: last failures) goes to the temporary directory, unless
    the user configured ``cache_dir`` themselves: a certification writes nothing where it runs."""
    import tempfile

    cache = getattr(config, "cache", None)
    if cache is None or not hasattr(cache, "_cachedir") or str(config.getini("cache_dir")) != ".pytest_cache":
        return
    cache._cachedir = Path(tempfile.gettempdir()) / "conformance-pytest-cache"


def _keep_hypothesis_out_of_the_working_directory() -> None:
    """Hypothesis keeps a cache of constants it collects from source files in ``./.hypothesis``
    even without an example database; a certification must leave the directory it runs in as it
    was. One shared folder under the temporary directory also keeps that cache warm between runs
    (``$HYPOTHESIS_STORAGE_DIRECTORY`` still wins)."""
    import os
    import tempfile

    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "conformance-hypothesis"))


def _context(spec: str, entry: Any, variant: str | None, config: Any, cases: list[Any], examples: int, *, every: bool) -> Context:
    from conformance.adapters import adapt

    raw = load_renderer(spec, entry, variant)
    own = getattr(raw, "variant", None)
    if every and isinstance(own, str) and own != variant:
        raise SetupError(f"--renderer {spec!r} is an instance built for variant {own!r}; {O.VARIANT.flag} {O.ALL_VARIANTS} "
                         "needs a class or factory that accepts variant=")
    name = variant or (own if isinstance(own, str) else None) or next(iter(entry.variants))
    try:
        adapted = adapt(raw, O.value(config, O.ADAPTER), tokenizer=entry.tokenizer())
    except TypeError as e:
        raise SetupError(f"--renderer {spec!r}: {e}") from e
    injection = O.value(config, O.INJECTION)
    if injection not in O.INJECTION_POLICIES:
        raise SetupError(f"{O.INJECTION.flag} must be one of {', '.join(O.INJECTION_POLICIES)}, not {injection!r}")
    return Context(spec=spec, entry=entry, variant=entry.variant(name), renderer=adapted, raw=raw, cases=cases, examples=examples,
                   injection=injection)


def raised_at(tb: Any) -> str:
    """``path:line`` of the innermost frame of a traceback ("" for none).

    Read from the raw traceback: an exception raised from a signal handler (the per-test timeout)
    can leave an entry whose ``tb_lineno`` is None (CPython 3.11 reports no line for some
    instructions), and pytest's ``TracebackEntry.lineno`` then raises ``TypeError``, which inside
    a report hook ends the whole session as an internal error. The frame's own line stands in."""
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    line = tb.tb_lineno if tb.tb_lineno is not None else tb.tb_frame.f_lineno
    return f"{tb.tb_frame.f_code.co_filename}:{line if line is not None else '?'}"


class RendererTimeout(BaseException):
    """A test ran longer than ``--conformance-timeout``: the renderer is too slow (a failure)."""


class SuitePlugin:
    def __init__(self, config: Any, contexts: list[Context]):
        self.config = config
        self.contexts = contexts
        self.ctx = contexts[0]  # the model and cases are the same in every context
        self.xfails = self._read_xfails(O.value(config, O.XFAILS))
        self.used_xfails: set[str] = set()
        self.timeout = float(O.value(config, O.TIMEOUT))
        self.records: list[dict[str, Any]] = []
        self.first_raised: dict[tuple[str, str], str] = {}
        self.started = time.time()

    @property
    def multi(self) -> bool:
        return len(self.contexts) > 1

    # ---- xfails ---------------------------------------------------------------------------
    @staticmethod
    def _read_xfails(path: str | None) -> dict[str, str]:
        if not path:
            return {}
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise pytest.UsageError(f"conformance: {O.XFAILS.flag} {path}: {e.strerror}") from None
        out = {}
        for line in text.splitlines():
            entry, _, comment = line.partition("#")
            entry = entry.strip()
            if entry:
                out[entry] = comment.strip() or "listed in the xfails file"
        return out

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        for item in items:
            ctx = getattr(getattr(item, "callspec", None), "params", {}).get("conformance_ctx", self.ctx)
            variant = ctx.variant.name if isinstance(ctx, Context) else self.ctx.variant.name
            plain = _plain_id(short_id(item.nodeid), variant) if self.multi else short_id(item.nodeid)
            params = getattr(getattr(item, "callspec", None), "params", {})
            case = next((params[k].id for k in ("case", "multi_turn_case", "look_alike_case") if k in params), "")
            item.user_properties += [(VARIANT_PROPERTY, variant), (ID_PROPERTY, plain), (CASE_PROPERTY, case)]
            for prefix, why in self.xfails.items():
                if plain.startswith(prefix):
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
            from conformance.suite.evidence import current_example

            running = current_example()
            where = ""
            if running is not None:
                import pprint

                where = f"\nthe generated conversation that was running:\n    messages = {pprint.pformat(running, width=100)}"
            # A BaseException: hypothesis lets it through as it is (an Exception raised while it
            # generates or shrinks would be reported as a flaky strategy instead of a slow renderer).
            raise RendererTimeout(f"the renderer did not finish this test within {self.timeout:g} s ({O.TIMEOUT.flag}){where}")

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            return (yield)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        from conformance.suite.evidence import running

        with running(item):
            return (yield)

    # ---- one exception, reported once -------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
        """The first test that raises a given exception (type, message, raising line) shows its
        traceback; every later one says so in one line. Output stays proportional to the distinct
        problems, not to the number of tests a broken method breaks."""
        report = yield
        excinfo = call.excinfo
        if not report.failed or excinfo is None or excinfo.errisinstance((AssertionError, pytest.fail.Exception)):
            return report
        where = raised_at(excinfo.tb)
        signature = f"{excinfo.typename}: {str(excinfo.value)[:200]}"
        key = (signature, where)
        report.user_properties.append((EXCEPTION_PROPERTY, signature))
        first = self.first_raised.setdefault(key, report.nodeid)
        if first != report.nodeid:
            report.longrepr = f"{signature} (at {where}; the same exception as {short_id(first)}, whose traceback is shown)"
        return report

    # ---- results ---------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: Any) -> None:
        if not (report.when == "call" or (report.when != "call" and report.outcome != "passed")):
            return
        props = dict(report.user_properties)
        outcome = report.outcome
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        elif report.when != "call":
            outcome = "error" if report.failed else outcome
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            if reason.startswith(REFUSED):
                outcome = "refused"
        elif report.failed:
            reason = (report.longreprtext or "")[-2000:]
            if reason.startswith("[XPASS(strict)]"):
                outcome = "xpassed"  # an xfails entry that passes: strict, so it fails the run
        # The failure's own first line (pytest's crash message): the reason above keeps the tail of
        # the report, which for a long traceback starts mid-way through a repr.
        crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "") if report.failed else ""
        nodeid = props.get(ID_PROPERTY) or short_id(report.nodeid)
        record = {"nodeid": nodeid, "area": area_of(report.nodeid), "case": props.get(CASE_PROPERTY, ""), "outcome": outcome,
                  **({"exception": props[EXCEPTION_PROPERTY]} if EXCEPTION_PROPERTY in props else {}), "reason": reason,
                  **({"message": crash[:1000]} if crash else {}),
                  "duration": round(report.duration, 4), "variant": props.get(VARIANT_PROPERTY, self.ctx.variant.name)}
        from conformance.suite.evidence import divergence_of, notes_of

        if report.failed:
            div = divergence_of(report)
            if div is not None:
                record["divergence"] = div
        notes = notes_of(report)
        if notes:
            record["notes"] = notes
        self.records.append(record)

    def verdicts(self) -> list[Verdict]:
        return [judge([r for r in self.records if r["variant"] == c.variant.name], c.renderer.capabilities, c.variant.name,
                      literal=c.injection == "literal") for c in self.contexts]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.config.option.collectonly:
            return  # nothing ran: no verdict
        tr = terminalreporter
        verdicts = self.verdicts()
        names = ", ".join(v.variant for v in verdicts)
        tr.section(f"conformance: {self.ctx.spec} on {self.ctx.entry.model_id} [{names}]")
        for v in verdicts:
            if self.multi:
                tr.write_line(f"[{v.variant}]")
            tr.write_line(f"{'area':<16}" + "".join(f"{c:>9}" for c in OUTCOMES))
            order = [a.name for a in AREAS] + sorted(set(v.counts) - {a.name for a in AREAS})
            for area in order:
                if area in v.counts:
                    tr.write_line(f"{area:<16}" + "".join(f"{v.counts[area].get(c, 0):>9}" for c in OUTCOMES))
            for p in v.problems:
                tr.write_line(f"  - {p}")
            if v.findings or v.notes:
                tr.write_line(f"findings ({len(v.findings)}), each one root cause; the smallest failing test reproduces it:")
            for f in v.findings:
                tr.write_line(f"  [{f.cls}] {f.title}: {f.count} test(s), e.g. {f.reproduction['nodeid']}")
                for m in f.members[1:]:
                    tr.write_line(f"      also: {m['title']}: {m['tests']} test(s)")
            for note, tests in v.notes.items():
                tr.write_line(f"  [benign] {note}: {len(tests)} test(s) (a note: changes nothing a model sees or trains on)")
            if v.refused:
                tr.write_line(f"  refused {len(v.refused)} case(s) the template renders lossily (allowed): {', '.join(v.refused)}")
            tr.write_line(f"verdict{' [' + v.variant + ']' if self.multi else ''}: {v.label}", bold=True, green=v.certified,
                          red=not v.certified)
        raised: dict[str, list[str]] = {}
        for r in self.records:
            if r.get("exception"):
                raised.setdefault(r["exception"], []).append(r["nodeid"])
        for signature, tests in sorted(raised.items(), key=lambda kv: -len(kv[1])):
            tr.write_line(f"raised {signature.splitlines()[0]} in {len(tests)} test(s), first {tests[0]}")
        unchecked = [n for n in self.ctx.entry.variants if n not in {c.variant.name for c in self.contexts}]
        if unchecked:
            tr.write_line(f"not checked: variant(s) {', '.join(unchecked)} of {self.ctx.entry.model_id} "
                          f"({O.VARIANT.flag} {O.ALL_VARIANTS} certifies every variant)")

    def pytest_unconfigure(self, config: Any) -> None:
        from conformance.strategies import restore_shrink_budget

        restore_shrink_budget()

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        path = O.value(self.config, O.REPORT)
        if not path or hasattr(self.config, "workerinput"):  # xdist workers report to the controller
            return
        verdicts = self.verdicts()
        overall = all(v.certified for v in verdicts)
        metadata = self.ctx.metadata()
        if self.multi:
            metadata["variant"] = O.ALL_VARIANTS
        areas: dict[str, dict[str, int]] = {}
        for v in verdicts:
            for a, c in v.counts.items():
                for k, n in c.items():
                    areas.setdefault(a, {}).setdefault(k, 0)
                    areas[a][k] += n
        data = {
            "schema_version": 1,
            "metadata": metadata,
            "duration_s": round(time.time() - self.started, 2),
            "verdict": "CERTIFIED" if overall else "NOT CERTIFIED",
            "verdict_label": verdicts[0].label if not self.multi else ("CERTIFIED" if overall else "NOT CERTIFIED"),
            "injection": self.ctx.injection,
            "problems": [f"[{v.variant}] {p}" if self.multi else p for v in verdicts for p in v.problems],
            "refused": sorted({c for v in verdicts for c in v.refused}),
            "areas": areas,
            "variants": {v.variant: v.to_json() for v in verdicts},
            "findings": [{**f.to_json(), "variant": v.variant} for v in verdicts for f in v.findings],
            "notes": [{**n, "variant": v.variant} for v in verdicts for n in v.to_json()["notes"]],
            "tests": sorted(self.records, key=lambda r: (r["variant"], r["nodeid"])),
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
