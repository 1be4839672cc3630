"""Findings, not failures: failing tests grouped into root causes, each classified by what it
breaks; a benign difference is a note on a CERTIFIED run."""

from __future__ import annotations

from inprocess import certify

from conformance.suite.findings import group_findings, signature_of

QWEN = ("--model", "Qwen/Qwen3-8B", "--conformance-shrink-seconds", "2")


def test_two_planted_defects_over_many_cases_are_exactly_two_findings(tmp_path, capsys, monkeypatch):
    run = certify(tmp_path, capsys, monkeypatch, "--renderer", "tests.mutants:SeamAndInjection", *QWEN)
    assert run.report["verdict"] == "NOT CERTIFIED"
    failing = run.failing()
    findings = run.report["findings"]
    assert len(failing) > 10, failing
    assert [(f["class"], f["tests"]) for f in findings] == sorted(
        [(f["class"], f["tests"]) for f in findings], key=lambda cf: ("security", "sampling", "training").index(cf[0]))
    assert {f["class"] for f in findings} == {"security", "training"} and len(findings) == 2, [f["title"] for f in findings]
    assert sum(f["tests"] for f in findings) == len(failing)
    seam = next(f for f in findings if f["class"] == "training")
    # Whitespace only: the whitespace region, of one way here.
    assert seam["title"].startswith("whitespace differs: leaves out '\\n' after '<|im_end|>'"), seam["title"]
    assert seam["reproduction"]["nodeid"].startswith("test_") and "reason" in seam["reproduction"]
    assert "findings (2)" in run.output and "[security] message text that spells a special token" in run.output
    from conformance.report.findings import literal_verdict
    from conformance.report.results import compact_run

    assert literal_verdict(compact_run(run.report)) == "not_certified"  # the seam still fails it under literal


def test_a_benign_difference_is_a_note_on_a_certified_run(tmp_path, capsys, monkeypatch):
    run = certify(tmp_path, capsys, monkeypatch, "--renderer", "tests.mutants:DropsFinalNewline", *QWEN)
    assert run.report["verdict"] == "CERTIFIED", run.output[-3000:]
    assert not run.report["findings"]
    notes = run.report["notes"]
    titles = {n["title"].split(" (")[0] for n in notes}
    assert titles == {"drops '\\n' after the final '<|im_end|>'"} and sum(n["tests"] for n in notes) > 300
    assert "[benign] drops '\\n' after the final '<|im_end|>'" in run.output


def _shapes(found):
    """Each finding's differences: its members' titles (a region's), else its own title."""
    return [[m["title"] for m in f.members] or [f.title] for f in found]


def test_a_signature_does_not_depend_on_the_case():
    def record(case, at, prev, expected, got):
        rows = [[at - 1, 1, prev, True, 1, prev, True], [at, 2, expected, False, 3, got, expected == "<|im_start|>"]]
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": {"what": "full conversation", "at": at, "expected_len": 40, "got_len": 39, "rows": rows}}

    a = record("basic-two-turns", 6, "<|im_end|>", "\n", "<|im_start|>")
    b = record("multiturn-25-turns", 311, "<|im_end|>", "\n", "<|im_start|>")
    assert signature_of(a)[0] == signature_of(b)[0]
    assert len(group_findings([a, b])) == 1 and group_findings([a, b])[0].count == 2


def test_inserted_ids_are_one_finding_whatever_follows_them():
    """A renderer that writes an empty think block into history turns diverges from the template at
    whatever the turn holds (a tool call, text, digits); the change is the inserted ids."""
    head = [("<|im_start|>", True, 1), ("assistant", False, 2), ("\n", False, 3)]
    think = [("<think>", True, 10), ("\n\n", False, 11), ("</think>", True, 12), ("\n\n", False, 11)]

    def record(case, body):
        exp, got = head + body, head + think + body
        rows = []
        for i in range(max(len(exp), len(got))):
            e = exp[i] if i < len(exp) else (None, False, None)
            g = got[i] if i < len(got) else (None, False, None)
            rows.append([100 + i, e[2], e[0], e[1], g[2], g[0], g[1]])
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": {"what": "generation prompt", "at": 103, "expected_len": 200, "got_len": 204, "rows": rows}}

    body_a = [("<tool_call>", True, 20), ("\n", False, 3), ('{"', False, 21), ("name", False, 22), ('":', False, 23)]
    body_b = [("Hi", False, 30), (" there", False, 31), ("!", False, 32), ("<|im_end|>", True, 33), ("\n", False, 3)]
    found = group_findings([record("tools", body_a), record("basic", body_b)])
    assert len(found) == 1 and found[0].count == 2, [f.title for f in found]
    assert found[0].title == "the reasoning block differs: writes '<think>' '\\n\\n' '</think>' '\\n\\n' more", found[0].title
    assert [m["title"] for m in found[0].members] == ["writes '<think>' '\\n\\n' '</think>' '\\n\\n' more"]


def test_an_example_that_ends_without_its_end_of_turn_token_is_one_finding_whichever_marker_it_was():
    """GLM closes a turn with the next message's marker: '<|user|>' after an answer,
    '<|observation|>' after a tool call. A renderer that ends its examples without it (or with
    '<|endoftext|>') makes one choice, seen at two markers."""
    def record(case, body, marker, got_last):
        rows = [[len(body) - 1, 5, body[-1], True, 5, body[-1], True], [len(body), 7, marker, True]
                + ([None, None, False] if got_last is None else [9, got_last, True])]
        return {"area": "loss_weights", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": {"what": "supervised example ids", "at": len(body), "expected_len": len(body) + 1,
                               "got_len": len(body) + (got_last is not None), "rows": rows}}

    dropped = group_findings([record("text", ["<|assistant|>"] * 6, "<|user|>", None),
                              record("call", ["</tool_call>"] * 37, "<|observation|>", None)])
    assert len(dropped) == 1 and dropped[0].count == 2 and dropped[0].cls == "training", [f.title for f in dropped]
    assert dropped[0].title.startswith("drops the final end-of-turn token"), dropped[0].title
    other = group_findings([record("text", ["<|assistant|>"] * 6, "<|user|>", "<|endoftext|>"),
                            record("call", ["</tool_call>"] * 37, "<|observation|>", "<|endoftext|>")])
    assert len(other) == 1 and other[0].title.startswith("ends with '<|endoftext|>'"), [f.title for f in other]


def test_state_lost_in_pickling_is_one_finding_wherever_it_was_unpickled():
    """tinker's gpt-oss renderer behaves differently after pickling, in this process and in a
    spawned one: one root cause. The two checks' messages share their first line."""
    import inspect

    from conformance.suite import test_pickle

    source = inspect.getsource(test_pickle)
    assert source.count('"the unpickled renderer behaves differently') == 2
    here = {"area": "pickle", "nodeid": "test_pickle.py::test_pickle_roundtrip_behaves_identically", "outcome": "failed",
            "message": "AssertionError: the unpickled renderer behaves differently"}
    spawned = {**here, "nodeid": "test_pickle.py::test_pickle_into_a_spawned_process",
               "message": "AssertionError: the unpickled renderer behaves differently\n(unpickled in a freshly spawned process)"}
    assert len(group_findings([here, spawned])) == 1


def test_a_crash_in_the_injection_area_is_not_a_security_finding():
    """tml refuses a generated look-alike conversation with a ValueError: a crash of the render,
    classed by the call it broke, never as a forged role boundary."""
    crash = {"area": "injection", "nodeid": "test_injection.py::test_generated_look_alikes_render_as_text", "outcome": "failed",
             "exception": "ValueError: thinking is disabled for this renderer, but the turn being produced carries reasoning",
             "reason": "Traceback ..."}
    prompt = {**crash, "nodeid": "test_injection.py::test_look_alike_text_never_becomes_a_special_token[inject-chatml-user-prompt]"}
    assert signature_of(crash)[2] == "training" and signature_of(prompt)[2] == "sampling"
    forged = {"area": "injection", "nodeid": crash["nodeid"], "outcome": "failed", "reason": "content text became special ids"}
    assert signature_of(forged)[2] == "security"


def test_one_parse_difference_is_one_finding_whichever_area_found_it():
    """The roundtrip goldens and a generated conversation find the same parse difference: one
    finding. Its signature comes from the failure's first line (pytest's crash message), not from
    the tail of a long report, which starts mid-way through a repr."""
    problem = "termination Termination.MALFORMED for a completion that ends with its stop token"
    golden = {"area": "roundtrip", "nodeid": "test_roundtrip.py::test_completion_parses_back_to_the_message[basic-two-turns]",
              "outcome": "failed", "reason": problem + "\ncase 'basic-two-turns' ...", "message": "AssertionError: " + problem}
    generated = {"area": "generated", "nodeid": "test_generated.py::test_generated_completions_parse_back", "outcome": "failed",
                 "reason": "ans': [[81, 106]]}}}})\nrenderer = <...>", "message": f"AssertionError: {problem}\nreproduce: ..."}
    (found,) = group_findings([golden, generated])
    assert found.count == 2 and found.cls == "sampling" and found.title == f"parse: {problem}"


def test_one_streaming_difference_is_one_finding_whichever_area_found_it():
    """The streaming area (goldens, one id at a time) and the generated area (any chunks) find the
    same stream difference: one finding, named by the markup it shows, whatever the case's text."""
    first = "the stream shows special token <tool_call> as content"
    golden = {"area": "streaming", "nodeid": "test_streaming.py::test_streamed_deltas_add_up_to_the_one_shot_parse[tools-single-call]",
              "outcome": "failed", "message": f"Failed: {first}\n    delta 3 shows '<tool_call>' where ..."}
    generated = {"area": "generated", "nodeid": "test_generated.py::test_generated_completions_stream_in_any_chunks",
                 "outcome": "failed", "message": f"AssertionError: {first}\n    delta 7 shows '<tool_call>\\n{{' where ..."}
    other = {**golden, "message": "Failed: the stream's content differs from the one-shot parse\n    delta 0 shows '\\n\\n' ..."}
    found = group_findings([golden, generated, other])
    assert [(f.count, f.cls) for f in found] == [(2, "sampling"), (1, "sampling")]
    assert found[0].title == f"{first} (streaming)"


def test_an_hf_literal_renderer_is_certified_as_exactly_that_under_the_literal_policy(tmp_path, capsys, monkeypatch):
    """A renderer that encodes content like apply_chat_template(tokenize=True) fails injection once
    per case under the standard's text policy, and is certified as HF-literal under literal."""
    run = certify(tmp_path, capsys, monkeypatch, "--renderer", "tests.mutants:SpecialTokensInUserText", *QWEN)
    assert [f["class"] for f in run.report["findings"]] == ["security"]
    # the report's HF-literal column is derived from this run; the real literal run below agrees
    from conformance.report.findings import literal_verdict
    from conformance.report.results import compact_run

    assert literal_verdict(compact_run(run.report)) == "certified_literal"
    literal = tmp_path / "literal"
    literal.mkdir()
    run = certify(literal, capsys, monkeypatch, "--renderer", "tests.mutants:SpecialTokensInUserText", *QWEN,
                  "--conformance-injection", "literal")
    assert run.report["verdict"] == "CERTIFIED" and run.report["injection"] == "literal", run.output[-3000:]
    assert "verdict: CERTIFIED, HF-literal: message content can forge role boundaries" in run.output
    assert not any(t["outcome"] == "passed" for t in run.report["tests"] if t["area"] == "injection")


def _rows(expected, got, start=100):
    """Divergence rows from (piece, special) lists, ids made up per piece."""
    ids: dict[tuple[str, bool], int] = {}
    rows = []
    for i in range(max(len(expected), len(got))):
        e = expected[i] if i < len(expected) else None
        g = got[i] if i < len(got) else None
        rows.append([start + i, *((ids.setdefault(e, len(ids) + 1), e[0], e[1]) if e else (None, "(end)", False)),
                     *((ids.setdefault(g, len(ids) + 1), g[0], g[1]) if g else (None, "(end)", False))])
    at = next(i for i, r in enumerate(rows) if r[1] != r[4])
    return {"what": "full conversation", "at": start + at, "expected_len": 500, "got_len": 500, "rows": rows}


def test_a_change_is_read_as_text_across_bpe_seams():
    """Dropping the template's newline before a message merges it with the text before it ('.\n'
    is one token, '.' another): the ids differ from there on, the text only by the newline. The
    signature is the newline left out, the same for every case's text."""
    def record(case, words):
        tail = [(w, False) for w in words] + [("<|im_end|>", True), ("\n", False)]
        expected = [("<|im_start|>", True), ("system", False), ("\n", False), ("Hi.\n", False)] + tail
        got = [("<|im_start|>", True), ("system", False), ("\n", False), ("Hi.", False)] + tail
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": _rows(expected, got)}

    found = group_findings([record("a", ["Be", " brief", "."]), record("b", ["Answer", " in", " French", "!", " Now"])])
    assert len(found) == 1, [f.title for f in found]
    assert _shapes(found) == [["leaves out '\\n' after '<|im_start|>' 'system' '\\n'"]], _shapes(found)


def test_text_written_for_other_text_is_named_by_the_templates_side():
    """Where a renderer writes its own text (the case's, varying) where the template has its own
    (a date line, a JSON wrapper), the template's side and the place name the finding; whitespace
    alone and \\u escapes are named as such."""
    def record(case, expected_text, got_text):
        head = [("<|start_header_id|>", True), ("system", False), ("<|end_header_id|>", True), ("\n\n", False)]
        end = [("<|eot_id|>", True), ("<|start_header_id|>", True), ("user", False), ("<|end_header_id|>", True)]
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": _rows(head + [(t, False) for t in expected_text] + end, head + [(t, False) for t in got_text] + end)}

    dates = group_findings([record("a", ["Cutting", " Knowledge", " Date", ":", " December"], ["Be", " brief"]),
                            record("b", ["Cutting", " Knowledge", " Date", ":", " December"], ["You", " are", " kind"])])
    assert _shapes(dates) == [["writes other text where the template has text after '<|end_header_id|>' '\\n\\n'"]], _shapes(dates)
    spaces = signature_of(record("c", ["  Hi", "  "], ["Hi"]))[1]
    assert spaces.startswith("writes other whitespace than the template"), spaces
    escapes = signature_of(record("d", ["caf", "é"], ["caf", "\\u00e9"]))[1]
    assert escapes.startswith("writes non-ASCII text as \\u escapes"), escapes
    # A channel word the renderer writes (framed by special tokens) is not case text: tinker keeps
    # an earlier turn's analysis where gpt-oss's template has its final answer.
    head = [("<|start|>", True), ("assistant", False), ("<|channel|>", True)]
    kept = {"area": "template_parity", "nodeid": "test_x[e]", "outcome": "failed", "case": "e",
            "divergence": _rows(head + [("final", False), ("<|message|>", True), ("51", False)],
                                head + [("analysis", False), ("<|message|>", True), ("17", False)])}
    (found,) = group_findings([kept])
    assert found.signature == "region|reasoning" and found.members[0]["title"] == (
        "writes 'analysis' where the template has 'final' after '<|channel|>'"), found.members


def test_the_report_merges_differences_seen_in_one_case_only():
    """A difference seen in a single golden case over every run (numbers in tool arguments, say)
    is that case's finding, its differences listed; one seen in two cases stays its own."""
    from conformance.report.findings import implementation_findings

    def finding(sig, cases, tests=3, cls="training"):
        return {"signature": sig, "class": cls, "title": sig, "area": "loss_weights", "tests": tests, "cases": cases,
                "reproduction": {"nodeid": f"test_x[{cases[0]}]", "divergence": {"expected_len": tests}}}

    runs = [{"implementation": "lib", "model": "m", "variant": v, "status": "not_certified",
             "findings": [finding("ids|a", ["tools-args-numbers"]), finding("ids|b", ["tools-args-numbers"], cls="sampling"),
                          finding("ids|c", ["x", "y"])]} for v in ("v1", "v2")]
    runs.append({"implementation": "lib", "model": "m", "variant": "v3", "status": "not_certified",
                 "findings": [finding("ids|a", ["tools-args-numbers"])]})
    found = implementation_findings({"runs": runs})["lib"]
    merged = next(f for f in found if f["signature"] == "case|tools-args-numbers")
    assert merged["class"] == "sampling" and merged["tests"] == 15 and len(merged["members"]) == 2, merged
    assert merged["title"].startswith("case 'tools-args-numbers': ids|b"), merged["title"]
    assert merged["certifies"] == ["m [v3]"], merged["certifies"]  # v1 and v2 also fail on ids|c
    assert {f["signature"] for f in found} == {"case|tools-args-numbers", "ids|c"}


def test_the_report_counts_each_familys_findings_for_its_maintainer():
    """A maintainer owns a renderer class per family: the findings that touch each family are
    counted (a finding in two families counts in both; notes never)."""
    from conformance.report.findings import family_line, findings_by_family

    found = [{"class": "training", "runs": ["openai/gpt-oss-20b [reasoning_low]", "openai/gpt-oss-20b [reasoning_high]"]},
             {"class": "sampling", "runs": ["openai/gpt-oss-20b [reasoning_low]", "zai-org/GLM-5 [thinking]",
                                            "zai-org/GLM-5.1 [thinking]"]},
             {"class": "benign", "runs": ["zai-org/GLM-5 [thinking]"]}]
    assert findings_by_family(found) == [("gpt-oss", 2), ("glm5", 1)]
    assert family_line(found).endswith(": gpt-oss 2, glm5 1")
    assert family_line(found[2:]) == ""


def test_a_findings_script_reproduces_it_with_the_library_alone(tmp_path, capsys, monkeypatch):
    """Prime's findings on Qwen3-8B [no_thinking] (renderers is a dev dependency): each script runs
    in a fresh interpreter with only the library and transformers (no conformance import), and
    fails showing the stated difference at the first divergence."""
    import os
    import subprocess
    import sys

    from conformance.fixtures.snapshots import load_snapshot
    from conformance.report.findings import implementation_findings
    from conformance.report.reproduce import reproduction_script
    from conformance.report.results import build_results, compact_run

    run = certify(tmp_path, capsys, monkeypatch, "--renderer", "conformance.peers:prime", *QWEN, "--conformance-variant", "no_thinking",
                  "-k", "template_parity or loss_weights")
    record = {"implementation": "prime", "model": "Qwen/Qwen3-8B", "variant": "no_thinking", "spec": "", **compact_run(run.report),
              "duration_s": 1.0}
    results = build_results([record], {"prime": {"ok": True, "env": "main"}}, date="2026-12-05", generated="2026-12-05T00:00:00+00:00",
                            duration_s=1.0)
    found = [f for f in implementation_findings(results)["prime"] if f["class"] != "benign"]
    scripts = {f["title"]: reproduction_script("prime", f, results) for f in found}
    # A title with a backslash (a finding about \\u escapes) still makes a valid script.
    compile(str(reproduction_script("prime", {**found[0], "title": "writes non-ASCII text as \\u escapes"}, results)), "x", "exec")
    assert {f["class"] for f in found} >= {"sampling", "training"} and all(scripts.values()), list(scripts)
    snapshot = str(load_snapshot("Qwen__Qwen3-8B").path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    for title, script in scripts.items():
        assert "import conformance" not in script and "from conformance" not in script
        path = tmp_path / "repro.py"
        path.write_text(script, encoding="utf-8")
        # An empty folder as the working directory: nothing of this repository on the import path.
        empty = tmp_path / "empty"
        empty.mkdir(exist_ok=True)
        out = subprocess.run([sys.executable, "-I", str(path), snapshot], cwd=empty, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 1 and "AssertionError" in out.stderr, (title, out.stdout[-2000:], out.stderr[-2000:])
        assert "apply_chat_template gives exactly the expected ids: True" in out.stdout, out.stdout[-2000:]
        if "supervised weights" in title:
            assert "trained but should not be:" in out.stdout and "'<think>'" in out.stdout, out.stdout[-2000:]
        else:
            assert "first divergence at token" in out.stdout and "'<think>'" in out.stdout, out.stdout[-2000:]


def test_a_token_left_out_is_one_finding_whether_or_not_the_list_ends_after_it():
    """tml's DeepSeek-V3.1 writes '</think>' where the template writes '<think></think>': in a
    prompt that ends there, and in a supervised example that goes on."""
    def record(case, tail, end):
        expected = [("<｜Assistant｜>", True), ("<think>", True), ("</think>", True)] + tail
        got = [("<｜Assistant｜>", True), ("</think>", True)] + tail
        div = _rows(expected, got)
        div.update(expected_len=div["at"] + len(expected) - 1, got_len=div["at"] + len(got) - 1) if end else None
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case, "divergence": div}

    found = group_findings([record("prompt", [], True), record("example", [("Hi", False), ("<｜end▁of▁sentence｜>", True)], False)])
    assert _shapes(found) == [["leaves out '<think>'"]], _shapes(found)


def test_the_same_text_split_otherwise_is_named_a_split_whatever_differs_later():
    """'.\\n' as one token against '.' '\\n': the texts agree through the window, the lists differ
    later on; the divergence is a token split, as in the lists that decode alike."""
    rec = {"area": "template_parity", "nodeid": "test_x[a]", "outcome": "failed", "case": "a",
           "divergence": _rows([(" you", False), (".\n", False), ("<tool_call>", True), ("\n", False), ('{"', False)],
                               [(" you", False), (".", False), ("\n", False), ("<tool_call>", True), ("\n", False), ('{"', False)])}
    assert signature_of(rec)[1].startswith("splits the template's text into other tokens"), signature_of(rec)[1]


def test_markup_written_where_the_template_has_prose_is_named_by_the_markup():
    """tml writes DeepSeek-V3's history reasoning as '<think>...' text where the template has the
    answer: the answers differ case by case, the markup does not."""
    def record(case, answer, reasoning):
        head = [("<｜User｜>", True), ("Q", False), ("<｜Assistant｜>", True)]
        tail = [("<｜end▁of▁sentence｜>", True)]
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": _rows(head + [(w, False) for w in answer] + tail,
                                    head + [("<", False), ("think", False), (">", False)] + [(w, False) for w in reasoning]
                                    + [("</", False), ("think", False), (">", False)] + [(w, False) for w in answer] + tail)}

    inserted = group_findings([record("a", ["About", " 14", " million"], ["Tokyo", "?"]),
                               record("b", ["No", ":", " 91"], ["Let", " me", " count"])])
    assert _shapes(inserted) == [["writes text '<think>' … more after '<｜Assistant｜>'"]], _shapes(inserted)
    # Reasoning longer than the window: the two sides never run together again in it.
    long = [" word"] * 60
    replaced = group_findings([record("c", ["About", " 14", " million"], long), record("d", ["No", ":", " 91"], ["Let"] + long)])
    assert _shapes(replaced) == [["writes text '<think>' where the template has text after '<｜Assistant｜>'"]], _shapes(replaced)


def test_a_split_closed_by_a_special_token_is_a_split_even_where_the_example_ends_otherwise():
    """tinker writes Qwen3.5's empty think block's '\\n\\n' as two '\\n' tokens, and drops the
    newline after the final <|im_end|>: the first divergence is the split. An extra newline right
    at the end is not one."""
    split = {"area": "loss_weights", "nodeid": "test_x[a]", "outcome": "failed", "case": "a",
             "divergence": _rows([("<think>", True), ("\n\n", False), ("</think>", True), ("\n\n", False), ("Hi", False),
                                  ("<|im_end|>", True), ("\n", False)],
                                 [("<think>", True), ("\n", False), ("\n", False), ("</think>", True), ("\n\n", False),
                                  ("Hi", False), ("<|im_end|>", True)])}
    split["divergence"].update(expected_len=split["divergence"]["at"] + 6, got_len=split["divergence"]["at"] + 6)
    assert signature_of(split)[1].startswith("splits the template's text into other tokens"), signature_of(split)[1]
    extra = {**split, "divergence": _rows([("<think>", True), ("\n", False)], [("<think>", True), ("\n\n", False)])}
    extra["divergence"].update(expected_len=extra["divergence"]["at"] + 1, got_len=extra["divergence"]["at"] + 1)
    assert not signature_of(extra)[1].startswith("splits"), signature_of(extra)[1]


def test_one_familys_reasoning_block_differences_are_one_finding():
    """tinker writes Qwen3.5's reasoning block its own way: the first divergence is a newline more
    after '<think>' in one call, a whole empty block in another. One finding, both ways listed; a
    difference in tool-call arguments stays its own. In the report, each family's reasoning block
    is its own finding (a library writes it with each family's code), summed over variants."""
    from conformance.report.findings import implementation_findings

    head = [("<|im_start|>", True), ("assistant", False), ("\n", False)]

    def record(case, expected, got, area="template_parity"):
        return {"area": area, "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": _rows(head + expected, head + got)}

    answer = [("Hi", False), ("<|im_end|>", True)]
    newline = record("a", [("<think>", True), ("\n", False), ("Hm", False)], [("<think>", True), ("\n\n", False), ("Hm", False)])
    block = record("b", answer, [("<think>", True), ("\n\n", False), ("</think>", True), ("\n\n", False)] + answer)
    block_again = record("c", answer, [("<think>", True), ("\n\n", False), ("</think>", True), ("\n\n", False)] + answer)
    args = record("d", [("<tool_call>", True), ('{"a": true}', False)], [("<tool_call>", True), ('{"a": True}', False)])
    found = group_findings([newline, block, block_again, args])
    assert len(found) == 2, _shapes(found)
    region = next(f for f in found if f.signature == "region|reasoning")
    assert region.count == 3 and [m["tests"] for m in region.members] == [2, 1], region.members
    assert region.title.startswith("the reasoning block differs: writes '<think>'") and "(and 1 more way(s))" in region.title
    assert all(not str(f.signature).startswith("region|") for f in found if f is not region)

    def run(model, variant):
        return {"implementation": "lib", "model": model, "variant": variant, "status": "not_certified",
                "findings": [{**f.to_json(), "variant": variant} for f in found]}

    report = implementation_findings({"runs": [run("Qwen/Qwen3.5-9B", "thinking"), run("Qwen/Qwen3.6-35B-A3B", "thinking"),
                                               run("Qwen/Qwen3-8B", "thinking")]})["lib"]
    regions = sorted(f["signature"] for f in report if f["signature"].startswith("region|"))
    assert regions == ["region|reasoning|qwen3", "region|reasoning|qwen3.5"], regions
    qwen35 = next(f for f in report if f["signature"] == "region|reasoning|qwen3.5")
    assert qwen35["tests"] == 6 and [m["tests"] for m in qwen35["members"]] == [4, 2], qwen35
    assert qwen35["title"].endswith("[qwen3.5]"), qwen35["title"]


def test_one_familys_system_prompt_differences_are_one_finding():
    """tinker opens Llama 3.1 conversations without the template's default system header: the
    first divergence is the header left out in one call, its role word written otherwise in
    another; both signatures name the system role. A difference after a user header stays its own."""
    def record(case, expected, got):
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": _rows([("<|begin_of_text|>", True)] + expected, [("<|begin_of_text|>", True)] + got)}

    header = [("<|start_header_id|>", True), ("system", False), ("<|end_header_id|>", True), ("\n\n", False)]
    user = [("<|start_header_id|>", True), ("user", False), ("<|end_header_id|>", True), ("\n\n", False)]
    default = header + [("Cutting", False), (" Knowledge", False), ("<|eot_id|>", True)] + user + [("Hi", False)]
    role = record("a", default, user + [("Hi", False), ("<|eot_id|>", True)])
    renamed = [("<|start_header_id|>", True), ("developer", False), ("<|end_header_id|>", True), ("\n\n", False)]
    written = record("b", header + [("Cutting", False), (" Knowledge", False)], renamed + [("Cutting", False), (" Knowledge", False)])
    content = record("c", user + [("Hi", False), (" there", False), ("<|eot_id|>", True)], user + [("Hi", False), ("<|eot_id|>", True)])
    found = group_findings([role, written, content])
    assert len(found) == 2, _shapes(found)
    system = next(f for f in found if f.signature == "region|system")
    assert system.count == 2 and system.title.startswith("the system prompt or tool declarations differ: "), system.title
    assert len(system.members) == 2


def test_a_stream_that_shows_special_tokens_as_content_is_one_finding_whichever_token():
    """Kimi's <|tool_calls_section_begin|> and Qwen's <tool_call> streamed as content: one
    streaming behaviour, whichever family's markup it is."""
    def record(case, token):
        return {"area": "streaming", "nodeid": f"test_s[{case}]", "outcome": "failed", "case": case,
                "message": f"AssertionError: the stream shows special token {token} as content\n    delta 3 shows ..."}

    found = group_findings([record("a", "<tool_call>"), record("b", "<|tool_calls_section_begin|>")])
    assert len(found) == 1 and found[0].count == 2, [f.title for f in found]


def test_a_findings_reproduction_is_a_plain_call_where_one_of_its_tests_is():
    """The extension check meets the same difference in fewer ids than the generation prompt, but
    only the prompt's comparison can be replayed against the library alone: it is the reproduction."""
    def record(nodeid, expected_len):
        div = _rows([("<think>", True), ("\n", False)], [("<think>", True), ("\n\n", False)])
        div["expected_len"] = expected_len
        return {"area": "template_parity" if "template" in nodeid else "extension", "nodeid": nodeid, "outcome": "failed",
                "case": "a", "divergence": div}

    found = group_findings([record("test_extension.py::test_claimed_extension_holds[a]", 20),
                            record("test_template_parity.py::test_generation_prompt_matches_template[a]", 90)])
    assert len(found) == 1 and found[0].reproduction["nodeid"].startswith("test_template_parity.py"), found[0].reproduction


def test_a_divergence_knows_which_message_and_zone_it_lies_in():
    """``part_at`` reads the place off the golden alone: Llama 3.1's default date lines are the
    system message's header, the user's words its body, the generation prompt the header of the
    assistant message it opens (also where a renderer writes more after it); a list that parts
    from the full render before the position has no part, never a guessed one."""
    from conformance.fixtures.cases import load_cases
    from conformance.fixtures.goldens import load_golden
    from conformance.fixtures.registry import load_registry
    from conformance.suite.parts import part_at

    golden = load_golden(load_registry()["meta-llama/Llama-3.1-8B-Instruct"], "default", "basic-system-single-turn")
    msgs = next(c for c in load_cases() if c.id == "basic-system-single-turn").messages_list()
    full, prompt = list(golden.full.ids), list(golden.prompt.ids)
    pieces = golden.full.tokens.pieces
    assert (pieces[5], pieces[25], pieces[36]) == ("Cut", "You", "Name")

    def part(expected, at):
        found = part_at(golden, msgs, expected, at)
        return found and (found["message"], found["role"], found["zone"])

    assert part(full, 5) == (0, "system", "header")  # 'Cutting Knowledge Date' before the system text
    assert part(full, 25) == (0, "system", "body")
    assert part(full, 36) == (1, "user", "body")
    assert part(full, 33) == (1, "user", "header")
    assert part(prompt, len(prompt) - 1) == part(prompt, len(prompt)) == (2, "assistant", "header")
    assert part(full[:5] + [0] + full[6:], 20) is None


def _record(case, expected, got, part=None, area="template_parity"):
    div = _rows(expected, got)
    if part is not None:
        div["part"] = {"message": part[0], "role": part[1], "zone": part[2], "tool_calls": part[3] if len(part) > 3 else False}
    return {"area": area, "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case, "divergence": div}


def test_differences_inside_the_system_prompt_are_one_finding_by_their_place():
    """tinker leaves out Llama 3.1's default date lines: without a system message the first
    divergence names the 'system' role word; with one it lies inside the date text, which names no
    role. The place (the first message's header) makes both one finding; a difference in the
    user's own text stays apart."""
    user = [("<|start_header_id|>", True), ("user", False), ("<|end_header_id|>", True), ("\n\n", False)]
    system = [("<|begin_of_text|>", True), ("<|start_header_id|>", True), ("system", False), ("<|end_header_id|>", True),
              ("\n\n", False)]
    dates = [("Cutting", False), (" Knowledge", False), (" Date", False), ("\n\n", False)]
    no_system = _record("a", system + dates + [("<|eot_id|>", True)] + user, [system[0]] + user + [("Hi", False)],
                        (0, "user", "header"))
    with_system = _record("b", system + dates + [("Be", False), (" brief", False)], system + [("Be", False), (" brief", False)],
                          (0, "system", "header"))
    words = _record("c", user + [("Hi", False), (" there", False), ("<|eot_id|>", True)], user + [("Hi", False), ("<|eot_id|>", True)],
                    (1, "user", "body"))
    found = group_findings([no_system, with_system, words])
    assert len(found) == 2, _shapes(found)
    (region,) = [f for f in found if f.signature == "region|system"]
    assert region.count == 2 and len(region.members) == 2, region.members
    assert not signature_of(with_system)[0].count("'system'"), signature_of(with_system)  # named by its place alone


def test_stripped_message_text_is_one_finding_in_every_role():
    """Nemotron's message text stripped by the renderer: whitespace left out at the end of a user
    message, a newline left out at the start of a system prompt: one whitespace finding. A JSON
    argument's spacing inside a tool call is the tool call's, not this one."""
    head = [("<|im_start|>", True), ("user", False), ("\n", False), ("Hi", False)]
    end = [("<|im_end|>", True), ("\n", False)]
    trailing = _record("a", head + [("    ", False)] + end, head + end, (0, "user", "body"))
    newline = _record("b", head + [("\n", False)] + end, head + end, (0, "user", "body"))
    sys_head = [("<|im_start|>", True), ("system", False)]
    system = _record("c", sys_head + [("\n\n", False), ("Be", False)], sys_head + [("\n", False), ("Be", False)], (0, "system", "body"))
    call = [("<tool_call>", True)]
    spacing = _record("d", call + [('{"a": 1}', False)], call + [('{"a":  1}', False)], (1, "assistant", "body", True))
    found = group_findings([trailing, newline, system, spacing])
    assert sorted(f.signature for f in found) == ["region|tool_calls", "region|whitespace"], _shapes(found)
    whitespace = next(f for f in found if f.signature == "region|whitespace")
    assert whitespace.count == 3 and len(whitespace.members) == 3, whitespace.members
    # Without a known place (a generated conversation), the same signature stays where the
    # signature alone puts it.
    assert [f.signature for f in group_findings([{**spacing, "divergence": {**spacing["divergence"], "part": None}}])] == [
        "region|whitespace"]


def test_a_signature_is_in_the_region_most_of_its_tests_place_it():
    """One signature, one finding: tests of it whose place is unknown (generated conversations)
    go where the located ones do, in the run and in the report across runs of the family."""
    from conformance.report.findings import implementation_findings

    head = [("<|start|>", True), ("assistant", False)]
    located = _record("a", head + [("<|channel|>", True), ("commentary", False)], head + [(" to", False), ("=", False)],
                      (1, "assistant", "body", True))
    unknown = {**_record("b", head + [("<|channel|>", True), ("commentary", False)], head + [(" to", False), ("=", False)]),
               "area": "generated", "case": ""}
    (finding,) = group_findings([located, unknown])
    assert finding.signature == "region|tool_calls" and finding.count == 2

    def run(variant, records):
        return {"implementation": "lib", "model": "openai/gpt-oss-20b", "variant": variant, "status": "not_certified",
                "findings": [{**f.to_json(), "variant": variant} for f in group_findings(records)]}

    report = implementation_findings({"runs": [run("reasoning_low", [located]), run("reasoning_high", [unknown])]})["lib"]
    assert [(f["signature"], f["tests"]) for f in report] == [("region|tool_calls|gpt-oss", 2)], report
    assert report[0]["certifies"] == ["openai/gpt-oss-20b [reasoning_low]", "openai/gpt-oss-20b [reasoning_high]"]
    # A run that places the signature in another region (its tests lie in the system prompt there)
    # beside a difference of its own: the family's home is where most tests lie, and that run's
    # region is split between the homes (neither alone would certify it).
    elsewhere = {**located, "divergence": {**located["divergence"], "part": {"message": 0, "role": "system", "zone": "body"}}}
    system_own = _record("c", [("<|start|>", True), ("system", False)], [("<|start|>", True), ("developer", False)])
    runs = [run("reasoning_low", [located, located]), run("reasoning_medium", [elsewhere, system_own])]
    report = implementation_findings({"runs": runs})["lib"]
    assert sorted((f["signature"], f["tests"]) for f in report) == [("region|system|gpt-oss", 1), ("region|tool_calls|gpt-oss", 3)], report
    assert all("openai/gpt-oss-20b [reasoning_medium]" not in f["certifies"] for f in report)


def test_a_seam_is_one_finding_whichever_pieces_face_each_other():
    """The same text split into other tokens at the end of one case's answer ('.\\n' for '.') and
    between two newlines in another: one encoder behaviour, its pieces in the reproduction."""
    def record(case, expected, got):
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": {**_rows(expected, got), "kind": "encoder"}}

    end = [("<|im_end|>", True)]
    a = record("a", [("Hi", False), (".\n", False)] + end, [("Hi", False), (".", False), ("\n", False)] + end)
    b = record("b", [("x", False), ("\n\n", False)] + end, [("x", False), ("\n", False), ("\n", False)] + end)
    (found,) = group_findings([a, b])
    assert found.count == 2 and found.title == "splits the template's text into other tokens (encoder)", found.title


def test_which_think_tag_an_example_leaves_untrained_is_one_finding():
    """tml-renderers leaves Kimi K2-Thinking's '<think>' untrained and K2.5's '</think>': where the
    template's block meets the renderer's differs, the weight rule is one."""
    def record(case, piece):
        return {"area": "loss_weights", "nodeid": f"test_w[{case}]", "outcome": "failed", "case": case,
                "reason": f"wrong tokens for all_assistant_messages\nnot trained but should be: [12:{piece!r}, 13:'Hm']"}

    (found,) = group_findings([record("a", "<think>"), record("b", "</think>")])
    assert found.count == 2 and found.title.startswith("leaves a think tag of the turn untrained"), found.title
    assert len(group_findings([record("a", "<think>"), record("c", "<|im_end|>")])) == 2


def test_a_tool_call_parse_finding_is_titled_without_the_comparison_rule():
    """The parse check's message says how tool calls are compared (typed JSON, string spellings):
    the reproduction keeps it, the title names the difference alone. The signature is the whole
    normalised message, so regrouping an older report keeps the finding."""
    from conformance.protocol import ParsedResponse, Termination
    from conformance.suite.support import parse_problems

    expected = {"content": "", "reasoning_content": "", "tool_calls": [{"name": "f", "arguments": {"n": 1}}]}
    (problem,) = parse_problems(ParsedResponse("", "", [{"name": "f", "arguments": {"n": 1.0}}], Termination.STOP_SEQUENCE), expected)
    record = {"area": "roundtrip", "nodeid": "test_r[a]", "outcome": "failed", "case": "a", "message": f"AssertionError: {problem}"}
    sig, title, cls = signature_of(record)
    assert title == "parse: tool calls … != …" and cls == "sampling", title
    assert "compared as typed JSON values" in sig
