"""A family is one module, a peer one record: writing it is all it takes for the renderer lookup, the
parser map, the parity report's plan and environments, noxfile.py and ``--renderer`` specs to see it."""

from __future__ import annotations

import sys
import textwrap

import pytest

TOY_MODULE = textwrap.dedent('''
    """A toy family over the Qwen3-8B snapshot: Qwen3's rendering, its own family name."""
    from reference_renderers.parsers import parse_qwen3
    from reference_renderers.qwen3 import Qwen3Renderer


    class ToyRenderer(Qwen3Renderer, register=True):
        family = "toy"
        parser = staticmethod(parse_qwen3)
        default_model = "toy/Qwen3-Toy"
''')

TOY_ENTRY = textwrap.dedent('''

    [models."toy/Qwen3-Toy"]
    snapshot = "Qwen__Qwen3-8B"
    family = "toy"
    end_of_turn = ["<|im_end|>"]
    pinned_date = "2026-01-01"
    tool_arguments = "as_written"
    reasoning_field = "reasoning_content"
    tool_call_content = "keep"

    [models."toy/Qwen3-Toy".variants.thinking]
    description = "the Qwen3 template's default"
    template_kwargs = {}
''')


@pytest.fixture
def toy(tmp_path, monkeypatch):
    from conformance.fixtures.paths import fixtures_root
    from reference_renderers import families

    real = fixtures_root()
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "models.toml").write_text((real / "models.toml").read_text(encoding="utf-8") + TOY_ENTRY, encoding="utf-8")
    for sub in ("tokenizers", "golden", "conversations", "schema", "vocab"):
        if (real / sub).exists():
            (fixtures / sub).symlink_to(real / sub)
    monkeypatch.setenv("CONFORMANCE_FIXTURES", str(fixtures))
    (tmp_path / "toy_family.py").write_text(TOY_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toy_family", raising=False)
    before = dict(families.FAMILIES)
    import toy_family

    yield toy_family.ToyRenderer
    # The toy's registration is undone: FAMILIES is the process's one table.
    families.FAMILIES.clear()
    families.FAMILIES.update(before)


def test_a_new_family_is_one_module(toy):
    import reference_renderers
    from conformance.report.plan import plan_jobs
    from reference_renderers import HAND_WRITTEN, get_renderer, renderer_names
    from reference_renderers.parsers import parse_with

    r = get_renderer("toy/Qwen3-Toy")
    assert type(r) is toy and type(get_renderer("toy")) is toy and "toy" in renderer_names()
    assert HAND_WRITTEN["toy"] == "ToyRenderer" and reference_renderers.ToyRenderer is toy  # the --renderer spec resolves
    qwen = get_renderer("Qwen/Qwen3-8B")
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    assert r.render(messages).ids == qwen.render(messages).ids
    done = r.tokenizer.encode("Hello.<|im_end|>", add_special_tokens=False)
    assert parse_with("toy", r.tokenizer, done, r.stop_token_ids()).content == "Hello."
    [job] = plan_jobs(["reference"], ["toy/Qwen3-Toy"])
    assert (job.spec, job.not_served) == ("reference_renderers:ToyRenderer", "")


def test_a_family_is_served_by_one_class():
    from reference_renderers.families import register
    from reference_renderers.parsers import parse_qwen3
    from reference_renderers.qwen3 import Qwen3Renderer

    class Second(Qwen3Renderer):  # defined outside the package: not registered unless asked
        family = "qwen3"
        parser = staticmethod(parse_qwen3)

    from reference_renderers.families import FAMILIES

    assert FAMILIES["qwen3"] is Qwen3Renderer
    with pytest.raises(ValueError, match="family 'qwen3' is served by reference_renderers.qwen3.Qwen3Renderer already"):
        register(Second)
    with pytest.raises(ValueError, match="sets no 'default_model'"):
        register(type("NoDefault", (), {"family": "x", "parser": staticmethod(parse_qwen3)}))


@pytest.fixture
def toy_peer():
    from conformance.peers import PEERS, Peer, register_peer

    def build(tokenizer, entry, variant, name):
        from reference_renderers import get_renderer

        return get_renderer(entry.model_id, tokenizer, variant=variant.name)

    def source(entry, variant, name):
        call = f"get_renderer({entry.model_id!r}, tok, variant={variant.name!r})"
        return f"from reference_renderers import get_renderer\n\nrenderer = {call}\n"

    peer = register_peer(Peer("toypeer", "a toy peer (our reference renderers)", library="reference_renderers",
                              distribution="renderer-conformance", style="native", table={("qwen3", "thinking"): "qwen3"},
                              build=build, source=source, install=("toy-library==1.0",)))
    yield peer
    PEERS.pop("toypeer")


def test_a_new_peer_is_one_record(toy_peer):
    import runpy
    import warnings
    from pathlib import Path

    import conformance.peers
    from conformance.peers import construction_source
    from conformance.report.plan import all_implementations, plan_jobs

    jobs = {j.variant: j for j in plan_jobs(["toypeer"], ["Qwen/Qwen3-8B"])}
    assert jobs["thinking"].spec == "conformance.peers:toypeer" and not jobs["thinking"].not_served
    assert "has no renderer for Qwen/Qwen3-8B [no_thinking]" in jobs["no_thinking"].not_served
    impl = all_implementations()["toypeer"]
    assert (impl.env, impl.library, impl.distribution) == ("toypeer", "reference_renderers", "renderer-conformance")
    r = conformance.peers.toypeer(None, model_id="Qwen/Qwen3-8B", variant="thinking")  # the --renderer factory
    assert r.render([{"role": "user", "content": "Hi"}]).ids
    assert "get_renderer('Qwen/Qwen3-8B', tok, variant='thinking')" in construction_source("toypeer", "Qwen/Qwen3-8B", "thinking")
    with warnings.catch_warnings():  # nox warns when a session name is registered twice in one process
        warnings.simplefilter("ignore", FutureWarning)
        noxfile = runpy.run_path(str(Path(__file__).resolve().parent.parent / "noxfile.py"))
    assert noxfile["PEER_ENVS"]["toypeer"] == ["toy-library==1.0"]  # nox builds its environment
    with pytest.raises(ValueError, match="a peer named 'toypeer' exists already"):
        from conformance.peers import register_peer

        register_peer(toy_peer)
