"""A family is one module: writing it is all it takes for the renderer lookup, the parser map, the
parity report's plan and ``--renderer`` specs to see it."""

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
    from conformance.paths import fixtures_root
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
