"""What one certification run holds: the model, the variant, the adapted renderer, the cases, the
goldens (stored for builtin cases, derived live by the oracle for extra ones)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from conformance.fixtures.cases import Case
from conformance.fixtures.golden_record import Golden, Render
from conformance.fixtures.registry import ModelEntry, Variant
from conformance.suite.spec import SetupError, load_renderer

__all__ = ["Context", "load_renderer", "SetupError"]


@dataclass
class Context:
    spec: str
    entry: ModelEntry
    variant: Variant
    renderer: Any  # adapted
    raw: Any
    cases: list[Case]
    examples: int = 25
    #: ``text`` (the standard) or ``literal``: what content spelling a special token must become
    injection: str = "text"
    _goldens: dict[str, Golden] = field(default_factory=dict)

    def expected_ids(self, side: Render) -> list[int]:
        """A golden side's ids under the run's injection policy: the safe ids (content as text), or
        under ``literal`` what ``apply_chat_template(tokenize=True)`` gives where that differs."""
        if self.injection == "literal" and side.literal_ids is not None:
            return list(side.literal_ids)
        return side.ids

    @functools.cached_property
    def tokenizer(self) -> Any:
        return self.entry.tokenizer()

    @functools.cached_property
    def oracle(self) -> Any:
        from conformance.oracle import Oracle

        return Oracle(self.entry)

    @functools.cached_property
    def golden_manifest(self) -> dict[str, Any]:
        from conformance.fixtures.goldens import load_golden_manifest

        return load_golden_manifest(self.entry)

    def golden(self, case: Case) -> Golden:
        if case.id not in self._goldens:
            if case.builtin:
                from conformance.fixtures.goldens import load_golden

                g = load_golden(self.entry, self.variant.name, case.id, self.golden_manifest)
            else:
                from conformance.oracle.derivation import derive

                g = derive(self.oracle, self.variant, case)
            self._goldens[case.id] = g
        return self._goldens[case.id]

    def image_golden(self, case: Case) -> dict[str, Any]:
        """The stored image golden of an image case (``fixtures/schema/image_golden.schema.json``)."""
        from conformance.fixtures.goldens import load_image_golden

        return load_image_golden(self.entry, self.variant.name, case.id, self.golden_manifest)

    @functools.cached_property
    def oracle_stop_ids(self) -> list[int]:
        """The template's end-of-turn ids (what the goldens' completions end with)."""
        return [int(self.tokenizer.convert_tokens_to_ids(t)) for t in self.entry.end_of_turn]

    @functools.cached_property
    def added_token_ids(self) -> frozenset[int]:
        return frozenset(int(i) for i in self.tokenizer.added_tokens_decoder)

    def metadata(self) -> dict[str, Any]:
        from conformance.fixtures.goldens import golden_manifest_sha256, library_versions

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

