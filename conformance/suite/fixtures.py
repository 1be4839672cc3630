"""pytest fixtures of the suite (registered by the plugin only when a renderer is given)."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["conformance_ctx", "renderer", "pytest_generate_tests"]


def _ctx(config: Any) -> Any:
    return config.pluginmanager.get_plugin("conformance-suite").ctx


@pytest.fixture(scope="session")
def conformance_ctx(request: Any) -> Any:
    return _ctx(request.config)


@pytest.fixture(scope="session")
def renderer(conformance_ctx: Any) -> Any:
    return conformance_ctx.renderer


def pytest_generate_tests(metafunc: Any) -> None:
    """``case``: every case (builtin + extra); ``multi_turn_case``: cases with two or more
    assistant messages; ``look_alike_case``: cases whose user/system/tool text spells a token."""
    ctx = _ctx(metafunc.config)
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", ctx.cases, ids=[c.id for c in ctx.cases])
    if "multi_turn_case" in metafunc.fixturenames:
        cs = [c for c in ctx.cases if sum(m["role"] == "assistant" for m in c.messages) >= 2]
        metafunc.parametrize("multi_turn_case", cs, ids=[c.id for c in cs])
    if "look_alike_case" in metafunc.fixturenames:
        cs = [c for c in ctx.cases if "look-alike" in c.tags or "security" in c.tags]
        metafunc.parametrize("look_alike_case", cs, ids=[c.id for c in cs])
