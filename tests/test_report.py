"""The parity report: a passing and a failing real certification run render to the expected
matrix, the token-level diff and the comparison with a previous report; the planner marks pairs a
peer does not serve; the page renders in headless Chromium (a screenshot with both the matrix and
a diff on it)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from conformance.report import write_report
from conformance.report.compare import compare
from conformance.report.matrix import build_matrix, cell_id
from conformance.report.page_html import render_html
from conformance.report.page_md import render_markdown
from conformance.report.plan import plan_jobs
from conformance.report.results import build_results, compact_run, load_results, previous_results

REPO = Path(__file__).resolve().parent.parent
MODEL = "Qwen/Qwen3-8B"
# A slice of the suite that is quick and that DroppedSeamNewline fails (full renders of
# multi-message cases) while the reference renderer passes it.
SELECT = "(basic-two-turns or basic-single-turn or stop_ids or pickle_roundtrip) and not extension"


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory):
    """Two real runs: the reference Qwen3 renderer (passes) and a mutant that drops a seam newline."""
    # pytester is function-scoped; a module-scoped pair of runs drives pytest in subprocesses directly.
    out = {}
    tmp = tmp_path_factory.mktemp("runs")
    for name, spec in (("reference", "reference_renderers:Qwen3Renderer"), ("mutant", "mutants:DroppedSeamNewline")):
        report = tmp / f"{name}.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]))
        subprocess.run([sys.executable, "-m", "pytest", "--renderer", spec, "--model", MODEL, "--conformance-variant", "thinking",
                        "--conformance-report", str(report), "-k", SELECT, "-q", "-p", "no:cacheprovider"],
                       cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
        out[name] = json.loads(report.read_text())
    return out


def _results(fixture_runs, *, previous=None, date="2026-12-02"):
    runs = []
    for impl, rep in (("reference", fixture_runs["reference"]), ("mutant", fixture_runs["mutant"])):
        runs.append({"implementation": impl, "model": MODEL, "variant": "thinking", "spec": rep["metadata"]["implementation"],
                     **compact_run(rep), "duration_s": 1.0})
    runs.append({"implementation": "mutant", "model": "meta-llama/Llama-3.1-8B-Instruct", "variant": "default", "spec": "",
                 "status": "not_served", "message": "no renderer for family 'llama3'"})
    runs.append({"implementation": "mutant", "model": "openai/gpt-oss-20b", "variant": "reasoning_low", "spec": "x",
                 "status": "config_error", "message": "built-in tokenizer does not encode like the snapshot"})
    envs = {"reference": {"ok": True, "env": "main", "python": "3.11"}, "mutant": {"ok": True, "env": "main", "python": "3.11"}}
    return build_results(runs, envs, date=date, generated=f"{date}T03:00:00+00:00", duration_s=12.0, previous=previous)


def test_passing_and_failing_runs_render_to_the_expected_matrix(fixture_runs):
    results = _results(fixture_runs)
    by_impl = {r["implementation"]: r for r in results["runs"] if r["model"] == MODEL}
    assert by_impl["reference"]["status"] == "certified"
    assert by_impl["mutant"]["status"] == "not_certified"
    assert any(n.startswith("test_template_parity.py::test_full_conversation_matches_template[basic-two-turns]")
               for n in by_impl["mutant"]["failing"])
    m = build_matrix(results)
    rows = {(r.implementation, r.variant): r for r in m.rows}
    assert set(rows) == {("reference", "thinking"), ("mutant", "thinking"), ("mutant", "default"), ("mutant", "reasoning_low")}
    ref, mut = rows[("reference", "thinking")], rows[("mutant", "thinking")]
    assert ref.cells[(MODEL, "template_parity")].state == "pass"
    assert ref.cells[(MODEL, "stop_sequences")].state == "pass"
    assert mut.cells[(MODEL, "template_parity")].state == "fail"
    assert mut.cells[(MODEL, "stop_sequences")].state == "pass"
    assert ref.cells[(MODEL, "generated")].state == "absent"  # deselected by -k: no test ran
    assert rows[("mutant", "default")].cells[("meta-llama/Llama-3.1-8B-Instruct", "pickle")].state == "not_served"
    assert rows[("mutant", "default")].cells[(MODEL, "pickle")].state == "none"  # Qwen3 has no variant "default"
    assert rows[("mutant", "reasoning_low")].cells[("openai/gpt-oss-20b", "roundtrip")].state == "config_error"
    # the failing cell carries counts and links to its details
    cell = mut.cells[(MODEL, "template_parity")]
    assert cell.counts.get("failed", 0) >= 1 and cell.anchor == cell_id("mutant", MODEL, "thinking", "template_parity")
    # a cell shows root causes, not test counts (those are its title), and each row its verdicts
    assert cell.label == "1 finding" and "after '<|im_end|>'" in cell.findings[0] and "/" in cell.tests
    assert ref.cells[(MODEL, "template_parity")].label == "ok"
    assert (ref.verdicts[MODEL], mut.verdicts[MODEL], rows[("mutant", "default")].verdicts[MODEL]) == ("certified", "not_certified", "none")


def test_failures_keep_the_first_divergence_as_data(fixture_runs):
    results = _results(fixture_runs)
    mutant = next(r for r in results["runs"] if r["implementation"] == "mutant" and r["model"] == MODEL)
    f = next(f for f in mutant["failures"] if "full_conversation" in f["nodeid"])
    div = f["divergence"]
    assert div["what"] == "full conversation"
    row = next(r for r in div["rows"] if r[0] == div["at"])
    # the seam newline after <|im_end|> is expected and missing from the mutant's ids
    assert row[1] == 198 and row[2] == "\n" and row[4] != 198
    before = next(r for r in div["rows"] if r[0] == div["at"] - 1)
    assert before[2] == "<|im_end|>" and before[3] is True  # marked special
    assert "reproduce:" in f["reason"]


def test_html_page_shows_matrix_diff_header_and_changes(fixture_runs):
    results = _results(fixture_runs)
    html = render_html(results)
    assert html == render_html(copy.deepcopy(results))  # deterministic
    assert 'id="matrix"' in html and 'class="diff"' in html and 'class="sp"' in html
    anchor = cell_id("mutant", MODEL, "thinking", "template_parity")
    assert f'href="#{anchor}"' in html and f'<details id="{anchor}">' in html
    assert "configuration error" in html and "n/s" in html
    assert results["snapshots"][MODEL]["content_hash"][:16] in html
    assert "No previous report" in html
    md = render_markdown(results)
    assert "| mutant |" in md and "template_parity:" in md and "`basic-two-turns`" in md


def test_comparison_lists_new_failures_fixed_and_status_changes(fixture_runs):
    old = _results(fixture_runs, date="2026-12-01")
    new = copy.deepcopy(old)
    mut = next(r for r in new["runs"] if r["implementation"] == "mutant" and r["model"] == MODEL)
    gone = mut["failing"][0]
    mut["failing"] = mut["failing"][1:] + ["test_pickle.py::test_pickle_roundtrip_behaves_identically"]
    cfg = next(r for r in new["runs"] if r["status"] == "config_error")
    cfg["status"] = "certified"
    ch = compare(new, old)
    key = f"mutant {MODEL} [thinking]"
    assert ch["previous"] == "2026-12-01"
    assert {"run": key, "nodeid": "test_pickle.py::test_pickle_roundtrip_behaves_identically"} in ch["new_failures"]
    assert {"run": key, "nodeid": gone} in ch["fixed"]
    assert {"run": "mutant openai/gpt-oss-20b [reasoning_low]", "from": "config_error", "to": "certified"} in ch["status_changes"]
    assert compare(old, old)["new_failures"] == [] and compare(old, old)["fixed"] == []


def test_changes_are_new_and_fixed_findings(fixture_runs):
    old = _results(fixture_runs, date="2026-12-01")
    new = copy.deepcopy(old)
    mut = next(r for r in new["runs"] if r["implementation"] == "mutant" and r["model"] == MODEL)
    (seam,) = mut["findings"]
    mut["findings"] = [{**seam, "signature": "stop|other", "title": "a new behaviour", "class": "sampling", "members": []}]
    ch = compare(new, old)
    assert ch["new_findings"] == [{"implementation": "mutant", "class": "sampling", "title": "a new behaviour", "signature": "stop|other"}]
    # The report names a region's family in its title.
    assert [(f["implementation"], f["title"].removesuffix(" [qwen3]")) for f in ch["fixed_findings"]] == [("mutant", seam["title"])]
    assert compare(old, old)["new_findings"] == [] == compare(old, old)["fixed_findings"]
    # a report from before findings existed is not read as "every finding is new"
    for r in old["runs"]:
        r.pop("findings", None)
    assert compare(new, old)["new_findings"] == [] and "mutant" in compare(new, old)["not_compared"]
    md, html = render_markdown({**new, "changes": ch}), render_html({**new, "changes": ch})
    assert "new finding: mutant: **sampling** a new behaviour" in md and "Fixed findings (1)" in html


def test_write_report_points_latest_and_finds_the_previous(fixture_runs, tmp_path):
    first = _results(fixture_runs, date="2026-12-01")
    write_report(first, tmp_path)
    prev = previous_results(tmp_path / "nightly", "2026-12-02")
    assert prev is not None and prev["date"] == "2026-12-01"
    second = _results(fixture_runs, previous=prev)
    out = write_report(second, tmp_path)
    assert (tmp_path / "latest").resolve() == out.resolve()
    assert {p.name for p in out.iterdir()} == {"results.json", "index.md", "index.html"}
    assert load_results(tmp_path / "latest" / "results.json")["changes"]["previous"] == "2026-12-01"
    assert "Changes since 2026-12-01" in (tmp_path / "latest" / "index.html").read_text()


def test_regroup_recomputes_findings_from_the_kept_reports(fixture_runs, tmp_path, capsys):
    """``conformance report regroup``: a report whose findings were grouped by an older version is
    grouped again from the full reports --keep-reports kept, and its pages re-drawn."""
    from conformance.cli import main
    from conformance.report.results import kept_report_name
    from conformance.suite.findings import group_findings

    stale = _results(fixture_runs)
    for run in stale["runs"]:
        if run.get("findings"):
            run["findings"] = [{**run["findings"][0], "signature": "stale", "title": "grouped by an older version"}]
    out = write_report(stale, tmp_path)
    kept = tmp_path / "kept"
    kept.mkdir()
    for impl in ("reference", "mutant"):
        (kept / kept_report_name(impl, MODEL, "thinking")).write_text(json.dumps(fixture_runs[impl]))
    assert main(["report", "regroup", str(out / "results.json"), "--reports", str(kept)]) == 0
    again = load_results(out / "results.json")
    mutant = next(r for r in again["runs"] if r["implementation"] == "mutant" and r["status"] == "not_certified")
    expected = [f.to_json()["signature"] for f in group_findings(fixture_runs["mutant"]["tests"])]
    assert [f["signature"] for f in mutant["findings"]] == expected and "stale" not in expected
    assert "grouped by an older version" not in (out / "index.md").read_text()
    assert "regrouped the findings of 2 run(s)" in capsys.readouterr().out


def test_plan_covers_every_pair_and_marks_what_a_peer_does_not_serve():
    jobs = plan_jobs()
    from conformance.fixtures.registry import load_registry

    pairs = {(e.model_id, v) for e in load_registry().values() for v in e.variants}
    for impl in ("reference", "prime", "tinker", "tml"):
        assert {(j.model, j.variant) for j in jobs if j.implementation == impl} == pairs
    assert all(j.spec and not j.not_served for j in jobs if j.implementation == "reference")
    mistral_prime = next(j for j in jobs if j.implementation == "prime" and j.model.startswith("mistralai/"))
    assert mistral_prime.not_served and "mistral-nemo" in mistral_prime.not_served
    llama_tml = next(j for j in jobs if j.implementation == "tml" and j.model.startswith("meta-llama/"))
    assert llama_tml.not_served
    kimi_prime = {j.variant: j.not_served for j in jobs if j.implementation == "prime" and j.model == "moonshotai/Kimi-K2.6"}
    assert not kimi_prime["thinking"] and "preserve_thinking" in kimi_prime["preserve_thinking"]
    with pytest.raises(ValueError, match="unknown implementation"):
        plan_jobs(["nope"])


def test_control_token_names_compare_across_vocabularies():
    from conformance.peers import _bare

    assert _bare("<｜end▁of▁sentence｜>") == _bare("End_of_sentence")  # tml's name for DeepSeek's end of turn
    assert _bare("<|im_end|>") == _bare("im_end") != _bare("im_start")


def test_a_tampered_results_file_is_refused(tmp_path):
    from conformance.errors import FixtureError

    p = tmp_path / "results.json"
    p.write_text('{"schema_version": 99}')
    with pytest.raises(FixtureError, match="schema_version"):
        load_results(p)
    p.write_text("{not json")
    with pytest.raises(FixtureError, match="not a readable report"):
        load_results(p)


# ---- headless Chromium ---------------------------------------------------------------------


def _png_colours(path: Path) -> tuple[int, int, set[bytes]]:
    """Width, height and the set of RGB colours of an 8-bit RGB/RGBA non-interlaced PNG (what
    Chromium writes); decoded here so the test needs no imaging library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"unexpected PNG format depth={depth} colour type={ctype}"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if ctype == 6 else 3
    raw, stride = zlib.decompress(idat), width * bpp
    prev, colours = bytearray(stride), set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # undo the PNG row filter
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(bytes(line[k:k + 3]) for k in range(0, stride, bpp))
        prev = line
    return width, height, colours


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def test_page_renders_in_headless_chromium_with_matrix_and_diff(fixture_runs, tmp_path):
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium for this test")
        pytest.skip("Debian's chromium is not installed here (apt-get install chromium); CI installs it")
    out = write_report(_results(fixture_runs), tmp_path)
    anchor = cell_id("mutant", MODEL, "thinking", "template_parity")
    url = (out / "index.html").as_uri() + f"#{anchor}"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars"]
    dom = subprocess.run([*flags, "--virtual-time-budget=2000", "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert 'id="matrix"' in dom, "the matrix is not in the rendered page"
    # What a reader came for comes first: the verdicts (a row per model), then the findings; the
    # per-area matrix and the change list follow, collapsed.
    order = [dom.index(x) for x in ('id="overview"', 'id="findings"', 'id="matrix-section"', 'id="changes"')]
    assert order == sorted(order), "the page does not open on the overview and the findings"
    assert '<details id="matrix-section">' in dom and '<details id="changes">' in dom
    assert f'<details id="{anchor}" open="">' in dom, "following a failing cell's link does not open its diff"
    assert 'class="diff"' in dom and "&lt;|im_end|&gt;" in dom
    shot, diff_shot = tmp_path / "page.png", tmp_path / "diff.png"
    subprocess.run([*flags, "--window-size=1600,1200", f"--screenshot={shot}", (out / "index.html").as_uri()],
                   capture_output=True, text=True, timeout=120)
    subprocess.run([*flags, "--window-size=1400,1800", "--virtual-time-budget=2000", f"--screenshot={diff_shot}", url],
                   capture_output=True, text=True, timeout=120)
    assert shot.is_file() and diff_shot.is_file(), "chromium wrote no screenshot"
    width, height, colours = _png_colours(shot)
    assert (width, height) == (1600, 1200)
    # The first screen shows the verdicts: a certified (green) and a not certified (red) run.
    assert bytes((0xAC, 0xEE, 0xBB)) in colours, "no certified (green) verdict on the first screen"
    assert bytes((0xFF, 0xAB, 0xA8)) in colours, "no failing (red) verdict on the first screen"
    _, _, colours = _png_colours(diff_shot)
    assert bytes((0xFF, 0xEB, 0xE9)) in colours, "the opened diff shows no divergent row"
    assert bytes((0xDD, 0xF4, 0xFF)) in colours, "the opened diff shows no highlighted special token"


# ---- what a divergence says about itself -------------------------------------------------------


def test_divergence_names_encoder_drift_injection_and_unformable_entries():
    from conformance.fixtures.registry import get_model
    from conformance.suite.evidence import record_divergence, unformable_ids
    from conformance.suite.support import token_diff

    tok = get_model(MODEL).tokenizer()
    head = list(tok.encode("<|im_start|>assistant\nhi", add_special_tokens=False))
    # "\n\n" is one token (271); a renderer that encodes the seam in two pieces writes the same text
    drift = record_divergence(tok, head + [271], head + [198, 198])
    assert drift["kind"] == "encoder" and drift["at"] == len(head)
    assert "decode to the same text" in token_diff(tok, head + [271], head + [198, 198])
    typed = list(tok.encode("<|im_end|>", add_special_tokens=False, split_special_tokens=True))
    assert len(typed) > 1
    inj = record_divergence(tok, head + typed, head + [tok.convert_tokens_to_ids("<|im_end|>")])
    assert inj["kind"] == "injection"
    other = record_divergence(tok, head + [271], head + list(tok.encode("x", add_special_tokens=False)))
    assert "kind" not in other and "unformable_ids" not in other
    # Qwen3.5's vocabulary holds full-width digit pairs that its pre-tokenizer always splits
    tok35 = get_model("Qwen/Qwen3.5-9B").tokenizer()
    pair = tok35.convert_tokens_to_ids(tok35.convert_ids_to_tokens(74511))
    assert tok35.decode([pair]) == "１０" and unformable_ids(tok35, [pair, 198]) == [pair]
    expected = list(tok35.encode("１０", add_special_tokens=False))
    note = token_diff(tok35, expected, [pair])
    assert "no BPE merge" in note and "１０" in note
    # GLM-5's BPE takes a whole word straight from its vocabulary (ignore_merges): " нанес" comes out
    # for the word itself, but no merge forms it inside " нанесение", where an encoder that emits the
    # entry whole (tml-renderers) disagrees with the oracle.
    glm = get_model("zai-org/GLM-5.2").tokenizer()
    entry = glm.convert_tokens_to_ids(glm.convert_ids_to_tokens(136322))
    assert glm.decode([entry]) == " нанес" and list(glm.encode(" нанес", add_special_tokens=False)) == [entry]
    oracle_ids = list(glm.encode(" нанесение", add_special_tokens=False))
    whole = [entry] + list(glm.encode("ение", add_special_tokens=False))
    assert entry not in oracle_ids and glm.decode(whole) == glm.decode(oracle_ids)
    assert unformable_ids(glm, whole + oracle_ids) == [entry]
    note = token_diff(glm, oracle_ids, whole)
    assert "no BPE merge" in note and "нанес" in note and "same text" in note


def test_findings_lead_the_report_and_become_bug_reports(fixture_runs, tmp_path):
    from conformance.report.findings import implementation_findings

    results = _results(fixture_runs)
    found = implementation_findings(results)
    assert "reference" not in found or not [f for f in found["reference"] if f["class"] != "benign"]
    (seam,) = [f for f in found["mutant"] if f["class"] != "benign"]
    assert seam["class"] == "training" and "after '<|im_end|>'" in seam["title"] and seam["reproduction"]["nodeid"]
    assert seam["certifies"] == [f"{MODEL} [thinking]"]  # its only finding: fixing it certifies that run
    md = render_markdown(results)
    assert "## Findings" in md and "mutant: 1 finding(s)" in md and md.index("## Findings") < md.index("## Changes")
    folder = write_report(results, tmp_path / "reports")
    out = subprocess.run([sys.executable, "-m", "conformance.cli", "report", "findings", str(folder / "results.json"), "--impl", "mutant",
                          "--out", str(tmp_path / "issues")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    (issue,) = sorted((tmp_path / "issues").glob("*.md"))
    text = issue.read_text()
    assert text.startswith(f"# {seam['title']}") and "## Reproduction" in text and "| pos | expected | actual |" in text
    assert "The chat template's own behaviour" in text
