"""pytest fixtures of the suite (registered by the plugin only when a renderer is given)."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["conformance_ctx", "renderer", "pytest_generate_tests"]


def _plugin(config: Any) -> Any:
    return config.pluginmanager.get_plugin("conformance-suite")


@pytest.fixture(scope="session")
def conformance_ctx(request: Any) -> Any:
    """The run's context: the model, one variant, the adapted renderer, the cases and goldens.
    Parametrized over the variants with ``--conformance-variant all``."""
    return getattr(request, "param", None) or _plugin(request.config).ctx


@pytest.fixture(scope="session")
def renderer(conformance_ctx: Any) -> Any:
    return conformance_ctx.renderer


def pytest_generate_tests(metafunc: Any) -> None:
    """``conformance_ctx``: one per variant when several are certified (the first test-id
    parameter); ``case``: every case (builtin + extra); ``multi_turn_case``: cases with two or
    more assistant messages; ``tools_case``: cases that declare tools;
    ``look_alike_case``: cases whose user/system/tool text spells a token; ``image_case``: the
    image cases (``fixtures/conversations/images``)."""
    plugin = _plugin(metafunc.config)
    if plugin.multi and "conformance_ctx" in metafunc.fixturenames:
        metafunc.parametrize("conformance_ctx", plugin.contexts, ids=[c.variant.name for c in plugin.contexts], indirect=True,
                             scope="session")
    cases = plugin.ctx.cases
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])
    if "multi_turn_case" in metafunc.fixturenames:
        cs = [c for c in cases if sum(m["role"] == "assistant" for m in c.messages) >= 2]
        metafunc.parametrize("multi_turn_case", cs, ids=[c.id for c in cs])
    if "image_case" in metafunc.fixturenames:
        from conformance.fixtures.cases import load_image_cases

        cs = load_image_cases(plugin.ctx.entry.root)
        metafunc.parametrize("image_case", cs, ids=[c.id for c in cs])
    if "tools_case" in metafunc.fixturenames:
        cs = [c for c in cases if c.tools]
        metafunc.parametrize("tools_case", cs, ids=[c.id for c in cs])
    if "look_alike_case" in metafunc.fixturenames:
        cs = [c for c in cases if "look-alike" in c.tags or "security" in c.tags]
        metafunc.parametrize("look_alike_case", cs, ids=[c.id for c in cs])
