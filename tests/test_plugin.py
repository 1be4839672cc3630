"""The pytest plugin's wiring: silent without --renderer, one clear error at start, runs from any
directory, xfails are strict and unused entries warned about, env-var fallbacks, the CLI front."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
QWEN = ["--model", "Qwen/Qwen3-8B", "-p", "no:cacheprovider"]


def test_without_renderer_the_plugin_is_silent(pytester):
    pytester.makepyfile(test_own="def test_mine():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "verdict" not in out and "== conformance" not in out


def test_plugin_module_imports_nothing_heavy():
    code = "import sys, conformance.plugin; print('transformers' in sys.modules, 'tokenizers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_inside_an_unrelated_repository_only_the_suite_runs(pytester):
    pytester.makepyfile(test_own="def test_mine_would_fail():\n    assert False\n")
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_subprocess("--renderer", "reference_renderers:Qwen3Renderer", *QWEN, "-k", "stop_sequences")
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert "test_mine_would_fail" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*verdict: CERTIFIED*"])


def test_an_unimportable_renderer_is_one_clear_error(pytester):
    result = pytester.runpytest_subprocess("--renderer", "no_such_pkg.mod:Thing", *QWEN)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*conformance: --renderer 'no_such_pkg.mod:Thing' cannot be imported*"])
    assert "Traceback" not in result.stderr.str()


def test_a_renderer_of_no_known_style_is_one_clear_error(pytester):
    pytester.makepyfile(weird="class Weird:\n    def __init__(self, tok):\n        pass\n")
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess("--renderer", "weird:Weird", *QWEN)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*matches no known renderer API style*"])


def test_unknown_model_lists_known_ids(pytester):
    result = pytester.runpytest_subprocess("--renderer", "reference_renderers:Qwen3Renderer", "--model", "nope/nope")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*unknown model id 'nope/nope'; known model ids: Qwen/Qwen3-8B, openai/gpt-oss-20b*"])


def test_xfails_are_strict_and_unused_entries_warned(pytester):
    pytester.syspathinsert(REPO)
    xf = pytester.path / "xfails.txt"
    xf.write_text(
        "# our renderer's known gaps\n"
        "test_stop_sequences.py::test_stop_ids_include_the_turn_closing_id  # wrong stop id, issue #1\n"
        "test_stop_sequences.py::test_stop_ids_are_special_tokens  # passes: strict makes this a failure\n"
        "test_nothing.py::test_gone  # matches nothing\n"
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--renderer", "tests.mutants:WrongStopId", *QWEN, "-k", "stop_sequences",
                                           "--conformance-xfails", str(xf), "--conformance-report", str(report))
    data = json.loads(report.read_text())
    by_id = {t["nodeid"]: t["outcome"] for t in data["tests"]}
    assert by_id["test_stop_sequences.py::test_stop_ids_include_the_turn_closing_id"] == "xfailed"
    assert by_id["test_stop_sequences.py::test_stop_ids_are_special_tokens"] == "xpassed"
    assert "stop_sequences: 1 failing" in data["problems"]
    assert "matches no test" in result.stdout.str()
    assert data["verdict"] == "NOT CERTIFIED"


def test_env_var_fallbacks_and_the_cli_front(tmp_path):
    env = {"CONFORMANCE_RENDERER": "reference_renderers:Qwen3Renderer", "CONFORMANCE_MODEL": "Qwen/Qwen3-8B",
           "PYTHONPATH": str(REPO), "PATH": __import__("os").environ["PATH"]}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "stop_sequences"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "verdict: CERTIFIED" in out.stdout
    out = subprocess.run([sys.executable, "-m", "conformance.cli", "certify", "reference_renderers:Qwen3Renderer",
                          "--model", "Qwen/Qwen3-8B", "-q", "-p", "no:cacheprovider", "-k", "pickle"],
                         cwd=tmp_path, env={**env, "CONFORMANCE_RENDERER": ""}, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "verdict: CERTIFIED" in out.stdout


def test_report_is_complete_under_xdist(pytester):
    # Workers run the tests; the controller receives every report and alone writes the JSON.
    pytester.syspathinsert(REPO)
    serial, parallel = pytester.path / "serial.json", pytester.path / "parallel.json"
    select = ["-k", "stop_sequences or pickle or injection"]
    r1 = pytester.runpytest_subprocess("--renderer", "reference_renderers:Qwen3Renderer", *QWEN, *select,
                                       "--conformance-report", str(serial))
    r2 = pytester.runpytest_subprocess("--renderer", "reference_renderers:Qwen3Renderer", *QWEN, *select,
                                       "-n", "2", "--conformance-report", str(parallel))
    assert r1.ret == 0 and r2.ret == 0, r2.stdout.str()[-3000:]
    a, b = json.loads(serial.read_text()), json.loads(parallel.read_text())
    ids = [t["nodeid"] for t in b["tests"]]
    assert len(ids) == len(set(ids)) > 20
    assert {t["nodeid"]: t["outcome"] for t in a["tests"]} == {t["nodeid"]: t["outcome"] for t in b["tests"]}
    assert a["areas"] == b["areas"] and b["verdict"] == "CERTIFIED"
    r2.stdout.fnmatch_lines(["*verdict: CERTIFIED*"])


def test_generated_failures_print_a_shrunk_reproduction(pytester):
    pytester.syspathinsert(REPO)
    result = pytester.runpytest_subprocess("--renderer", "tests.mutants:IntegersParsedAsFloats", *QWEN, "-k", "generated_completions",
                                           "--conformance-examples", "100", "--conformance-shrink-seconds", "2")
    out = result.stdout.str()
    assert result.ret == 1
    # The conversation as a Python literal, the call, and the typed-JSON difference.
    assert "reproduce:" in out and "messages = [{'role':" in out and "renderer.parse_response(completion_ids)" in out
    # Hypothesis says "Falsifying example" before 6.16x and "Failing test case" since.
    assert "compared as typed JSON values" in out and ("Falsifying example" in out or "Failing test case" in out)


_WRAPPERS = '''
import functools
import reference_renderers as R


class ThinSubclass(R.Qwen3Renderer):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)


class KeywordOnly(R.Qwen3Renderer):
    def __init__(self, *, tokenizer, model_id, variant=None):
        super().__init__(tokenizer, model_id=model_id, variant=variant)


def plain_factory(*args, **kwargs):
    return R.Qwen3Renderer(*args, **kwargs)


def lib_factory(tok, **options):
    # A library factory that forwards **options to a constructor that takes no model_id/variant.
    return _NoIds(tok, **options)


class _NoIds(R.Qwen3Renderer):
    def __init__(self, tok):
        super().__init__(tok, model_id="Qwen/Qwen3-8B")


partial = functools.partial(R.Qwen3Renderer, model_id="Qwen/Qwen3-8B")


class Maker:
    def __call__(self, tokenizer, model_id, variant=None):
        return R.Qwen3Renderer(tokenizer, model_id=model_id, variant=variant)


maker = Maker()


class WithClassmethod(R.Qwen3Renderer):
    @classmethod
    def for_model(cls, tokenizer, *, model_id, variant=None):
        return cls(tokenizer, model_id=model_id, variant=variant)


class Raises(R.Qwen3Renderer):
    def __init__(self, *a, **k):
        raise RuntimeError("no GPU found")
'''


def test_every_common_way_of_naming_a_renderer_resolves(tmp_path, monkeypatch):
    from conformance.fixtures.registry import get_model
    from conformance.suite.spec import SetupError, load_renderer
    from reference_renderers import Qwen3Renderer

    (tmp_path / "wrappers.py").write_text(_WRAPPERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = get_model("Qwen/Qwen3-8B")
    for attr in ("ThinSubclass", "KeywordOnly", "plain_factory", "lib_factory", "partial", "maker", "WithClassmethod.for_model"):
        r = load_renderer(f"wrappers:{attr}", entry, "no_thinking")
        assert isinstance(r, Qwen3Renderer), attr
        assert r.tokenizer is entry.tokenizer(), attr
        assert r.variant == ("thinking" if attr == "lib_factory" else "no_thinking"), attr
    with pytest.raises(SetupError) as e:
        load_renderer("wrappers:Raises", entry, None)
    message = str(e.value)
    assert "RuntimeError: no GPU found" in message and f"raised at {tmp_path / 'wrappers.py'}:" in message and "in __init__" in message
    with pytest.raises(SetupError, match="PYTHONPATH=."):
        load_renderer("not_importable_here:X", entry, None)


def test_areas_are_the_suite_modules():
    """The one list of areas (name, capability, abbreviation) names exactly the suite's modules."""
    from conformance.protocol import Capabilities
    from conformance.suite import areas

    modules = {p.stem[len("test_"):] for p in Path(areas.__file__).parent.glob("test_*.py")}
    assert set(areas.AREA_NAMES) == modules
    assert len({a.abbreviation for a in areas.AREAS}) == len(areas.AREAS)
    assert all(a.capability is None or hasattr(Capabilities(), a.capability) for a in areas.AREAS)


def test_a_failure_in_any_module_is_not_certified(tmp_path, capsys, monkeypatch):
    """The verdict is computed from every test record: a failing test outside the suite's areas
    (here an extra test file given on the command line) makes the run NOT CERTIFIED."""
    from inprocess import certify

    extra = tmp_path / "test_house_rules.py"
    extra.write_text("def test_our_own_rule():\n    assert False, 'house rule broken'\n")
    run = certify(tmp_path, capsys, monkeypatch, "--renderer", "reference_renderers:Qwen3Renderer", "--model", "Qwen/Qwen3-8B",
                  "-k", "stop_sequences or our_own_rule", str(extra))
    assert run.report["verdict"] == "NOT CERTIFIED" and "house_rules: 1 failing" in run.report["problems"]
    assert run.ret == 1 and "verdict: NOT CERTIFIED" in run.output


def test_a_certification_leaves_an_empty_folder_empty(tmp_path):
    """Neither pytest's cache nor hypothesis's files land where a certification runs, even when
    tests fail (a failing run is when pytest writes its last-failed cache)."""
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO)}
    env.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "--renderer", "tests.mutants:WrongStopId", "--model", "Qwen/Qwen3-8B",
                          "-k", "stop_sequences or generated_conversations"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert "verdict: NOT CERTIFIED" in out.stdout, out.stdout[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_cli_helps_in_plain_text_and_certify_lists_what_it_passes_on():
    from conformance.cli import build_parser, main
    from conformance.options import OPTIONS, RENDERER

    top = build_parser().format_help()
    assert "``" not in top and ":mod:" not in top
    certify = subprocess.run([sys.executable, "-m", "conformance.cli", "certify", "--help"], capture_output=True, text=True).stdout
    assert all(o.flag in certify for o in OPTIONS if o is not RENDERER) and "passed to pytest" in certify
    render = subprocess.run([sys.executable, "-m", "conformance.cli", "report", "render", "--help"], capture_output=True, text=True).stdout
    assert "RESULTS_JSON" in render and "--shard" not in render
    assert callable(main)


def test_collect_only_prints_no_verdict(tmp_path):
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "pytest", "--co", "-q", "--renderer", "reference_renderers:Qwen3Renderer", "--model",
                          "Qwen/Qwen3-8B"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "verdict" not in out.stdout and "test_stop_sequences.py" in out.stdout


_BROKEN = '''
import time
import reference_renderers as R


class ReturnsText(R.Qwen3Renderer):
    def render(self, messages, *, tools=None, add_generation_prompt=False):
        return self.tokenizer.decode(super().render(messages, tools=tools, add_generation_prompt=add_generation_prompt).ids)


class AlwaysRaises(R.Qwen3Renderer):
    def build_generation_prompt(self, messages, *, tools=None, prefill=None):
        return self._system(messages)

    def _system(self, messages):
        return {m["role"]: m for m in messages}["system"]


class BreaksOnSystemPrompts(R.Qwen3Renderer):
    def render(self, messages, *, tools=None, add_generation_prompt=False):
        if any(m["role"] == "system" for m in messages):
            return self._prompt_of(messages)
        return super().render(messages, tools=tools, add_generation_prompt=add_generation_prompt)

    def _prompt_of(self, messages):
        return {}["system_prompt"]


class SlowOnLongConversations(R.Qwen3Renderer):
    def render(self, messages, *, tools=None, add_generation_prompt=False):
        if len(messages) > 2:
            time.sleep(4)
        return super().render(messages, tools=tools, add_generation_prompt=add_generation_prompt)
'''


def _run_broken(tmp_path, name, *extra):
    (tmp_path / "broken.py").write_text(_BROKEN)
    env = {**__import__("os").environ, "PYTHONPATH": f"{tmp_path}{__import__('os').pathsep}{REPO}"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "--renderer", f"broken:{name}", "--model", "Qwen/Qwen3-8B", *extra],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name, said", [
    ("ReturnsText", "render(messages) raised TypeError: render returned str '<|im_start|>user"),
    ("AlwaysRaises", "build_generation_prompt(messages[:1]) raised KeyError: 'system'"),
])
def test_a_renderer_broken_on_the_simplest_conversation_is_one_start_up_error(tmp_path, name, said):
    out = _run_broken(tmp_path, name)
    text = out.stdout + out.stderr
    assert out.returncode == 4, text[-2000:]
    assert said in text and len(text.splitlines()) < 40
    if name == "AlwaysRaises":  # the user's own frames, not the suite's
        assert "broken.py" in text and "in _system" in text and "conformance/suite" not in text


def test_a_timeout_inside_a_generated_test_names_the_slow_renderer_and_its_conversation(tmp_path):
    out = _run_broken(tmp_path, "SlowOnLongConversations", "-k", "generated_conversations", "--conformance-timeout", "3")
    assert out.returncode == 1
    assert "the renderer did not finish this test within 3 s" in out.stdout and "messages = [" in out.stdout
    assert "Flaky" not in out.stdout and "Inconsistent data generation" not in out.stdout


def test_one_exception_in_many_tests_is_shown_once_with_its_count(tmp_path):
    out = _run_broken(tmp_path, "BreaksOnSystemPrompts", "-k", "not generated")
    assert out.returncode == 1
    summary = [ln for ln in out.stdout.splitlines() if ln.startswith("raised KeyError: 'system_prompt' in ")]
    assert summary, out.stdout[-3000:]
    n = int(summary[0].split(" in ")[1].split(" ")[0])
    assert n > 10 and out.stdout.count('return {}["system_prompt"]') == 1  # one traceback for all of them
    # the failure sections only: the short summary repeats a failure's first line when the terminal is wide
    bodies = [ln for ln in out.stdout.splitlines() if not ln.startswith("FAILED ")]
    assert sum("the same exception as" in ln for ln in bodies) == n - 1


def test_a_traceback_entry_without_a_line_number_is_still_placed():
    """An exception raised from the timeout's signal handler can leave a traceback entry whose
    ``tb_lineno`` is None; grouping it must not raise (inside a report hook that ends the session
    as an internal error: seen in CI, ``'NoneType' - 'int'``)."""
    from types import SimpleNamespace as NS

    from conformance.suite.session import raised_at

    inner = NS(tb_next=None, tb_lineno=None, tb_frame=NS(f_code=NS(co_filename="/x/renderer.py"), f_lineno=42))
    outer = NS(tb_next=inner, tb_lineno=3, tb_frame=NS(f_code=NS(co_filename="/x/test.py"), f_lineno=3))
    assert raised_at(outer) == "/x/renderer.py:42"
    assert raised_at(NS(tb_next=None, tb_lineno=7, tb_frame=NS(f_code=NS(co_filename="a.py"), f_lineno=None))) == "a.py:7"
    assert raised_at(None) == ""


def test_check_modules_are_not_rewritten_and_every_assertion_says_why():
    """With ``CI`` set, pytest diffs rewritten assertions' values in full; on id and weight lists
    that took a failing certification from seconds to over ten minutes (conformance/suite/support.py).
    The check modules opt out, so each assertion must carry its own message."""
    import ast

    import conformance.suite as suite

    for path in sorted(Path(suite.__file__).parent.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        assert "PYTEST_DONT_REWRITE" in (ast.get_docstring(tree) or ""), f"{path.name} is assertion-rewritten"
        bare = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert) and n.msg is None]
        assert not bare, f"{path.name}: assertions without a message at lines {bare}"


def test_a_failing_check_reports_fast_where_ci_is_set(tmp_path, capsys, monkeypatch):
    """The same certification as CI runs it (``CI=true``): 200 failing weight comparisons on long
    lists are reported with the suite's own evidence, not pytest's full diff of the values."""
    from inprocess import certify

    monkeypatch.setenv("CI", "true")
    run = certify(tmp_path, capsys, monkeypatch, "--renderer", "tests.mutants:PerTurnExamplesTrainThePrompt", "--model",
                  "Qwen/Qwen3-8B", "-k", "per_turn")
    assert run.ret == 1 and run.report is not None and len(run.failing()) > 100
    assert "weighs its prompt 0 and its completion 1" in run.output and "Full diff" not in run.output


def test_a_certification_leaves_hypothesis_as_it_found_it(tmp_path, capsys, monkeypatch):
    """The shrink budget a certification sets is hypothesis's own again when its session ends (the
    engine constant is process-wide: an in-process run must not change a user's other tests)."""
    from hypothesis.internal.conjecture import engine
    from inprocess import certify

    before = engine.MAX_SHRINKING_SECONDS
    run = certify(tmp_path, capsys, monkeypatch, "--renderer", "reference_renderers:Qwen3Renderer", "--model", "Qwen/Qwen3-8B",
                  "--conformance-shrink-seconds", "1", "-k", "stop_ids")
    assert run.ret == 0 and engine.MAX_SHRINKING_SECONDS == before


def test_the_protocol_is_typed_for_users():
    """``py.typed`` ships: a renderer author's type checker reads the protocol's types."""
    import conformance

    assert (Path(conformance.__file__).parent / "py.typed").is_file()
