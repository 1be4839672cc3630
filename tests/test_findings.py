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
    assert "'<|im_start|>' where the template has '\\n' after '<|im_end|>'" in seam["title"]
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


def test_a_signature_does_not_depend_on_the_case():
    def record(case, at, prev, expected, got):
        rows = [[at - 1, 1, prev, True, 1, prev, True], [at, 2, expected, False, 3, got, expected == "<|im_start|>"]]
        return {"area": "template_parity", "nodeid": f"test_x[{case}]", "outcome": "failed", "case": case,
                "divergence": {"what": "full conversation", "at": at, "expected_len": 40, "got_len": 39, "rows": rows}}

    a = record("basic-two-turns", 6, "<|im_end|>", "\n", "<|im_start|>")
    b = record("multiturn-25-turns", 311, "<|im_end|>", "\n", "<|im_start|>")
    assert signature_of(a)[0] == signature_of(b)[0]
    assert len(group_findings([a, b])) == 1 and group_findings([a, b])[0].count == 2


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
