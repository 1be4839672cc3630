"""What one certification run holds: the model, the variant, the adapted renderer, the cases, the
goldens (stored for builtin cases, derived live by the oracle for extra ones)."""

from __future__ import annotations

import functools
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any

from conformance.cases import Case
from conformance.registry import ModelEntry, Variant

__all__ = ["Context", "load_renderer", "SetupError"]


class SetupError(Exception):
    """Raised at session start; becomes one pytest usage error."""


def _call_factory(factory: Any, tokenizer: Any, model_id: str, variant: str | None) -> Any:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return factory(tokenizer)
    params = sig.parameters
    kwargs: dict[str, Any] = {}
    if "model_id" in params:
        kwargs["model_id"] = model_id
    if "variant" in params and variant:
        kwargs["variant"] = variant
    positional = [p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional:
        return factory(tokenizer, **kwargs)
    return factory(**kwargs)


def load_renderer(spec: str, entry: ModelEntry, variant: str | None) -> Any:
    """Resolve ``module:attr`` and turn it into a renderer object (instance, class or factory)."""
    if ":" not in spec:
        raise SetupError(f"--renderer {spec!r}: expected module:attr (e.g. mypkg.renderers:MyRenderer)")
    try:
        obj = pkgutil.resolve_name(spec)
    except Exception as e:  # noqa: BLE001 - any import problem becomes one readable message
        raise SetupError(f"--renderer {spec!r} cannot be imported: {type(e).__name__}: {e}") from e
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj):
        try:
            obj = _call_factory(obj, entry.tokenizer(), entry.model_id, variant)
        except Exception as e:  # noqa: BLE001
            raise SetupError(f"--renderer {spec!r} could not be called with the {entry.model_id} tokenizer: {type(e).__name__}: {e}") from e
    return obj


@dataclass
class Context:
    spec: str
    entry: ModelEntry
    variant: Variant
    renderer: Any  # adapted
    raw: Any
    cases: list[Case]
    examples: int = 25
    _goldens: dict[str, dict[str, Any]] = field(default_factory=dict)

    @functools.cached_property
    def tokenizer(self) -> Any:
        return self.entry.tokenizer()

    @functools.cached_property
    def oracle(self) -> Any:
        from conformance.oracle import Oracle

        return Oracle(self.entry)

    @functools.cached_property
    def golden_manifest(self) -> dict[str, Any]:
        from conformance.goldens import load_golden_manifest

        return load_golden_manifest(self.entry)

    def golden(self, case: Case) -> dict[str, Any]:
        if case.id not in self._goldens:
            if case.builtin:
                from conformance.goldens import load_golden

                g = load_golden(self.entry, self.variant.name, case.id, self.golden_manifest)
            else:
                from conformance.golden_derivation import derive_golden

                g = derive_golden(self.oracle, self.variant, case)
            self._goldens[case.id] = g
        return self._goldens[case.id]

    @functools.cached_property
    def added_token_ids(self) -> frozenset[int]:
        return frozenset(int(i) for i in self.tokenizer.added_tokens_decoder)

    def metadata(self) -> dict[str, Any]:
        from conformance.goldens import golden_manifest_sha256, library_versions

        raw_mod = type(self.raw).__module__.split(".")[0]
        try:
            from importlib import metadata as md

            impl_version = md.version(raw_mod)
        except Exception:  # noqa: BLE001
            impl_version = getattr(__import__(raw_mod), "__version__", "unknown")
        snap = self.entry.snapshot()
        return {
            "implementation": self.spec,
            "implementation_type": f"{type(self.raw).__module__}.{type(self.raw).__qualname__}",
            "implementation_version": impl_version,
            "adapter": getattr(self.renderer, "style", "?"),
            "model": self.entry.model_id,
            "variant": self.variant.name,
            "snapshot": snap.name,
            "snapshot_content_hash": snap.content_hash,
            "chat_template_sha256": snap.chat_template_sha256,
            "fidelity": snap.manifest["fidelity"],
            "golden_manifest_sha256": golden_manifest_sha256(self.entry),
            "libraries": library_versions(),
        }

