"""The model registry (``fixtures/models.toml``): model id -> snapshot, family, variants, pins.

``get_model(model_id)`` is the one way to turn a model id into something loadable; an unknown id
raises :class:`~conformance.errors.UnknownModelError` listing the known ids.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.errors import FixtureError, UnknownModelError
from conformance.paths import fixtures_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Variant", "ModelEntry", "load_registry", "get_model", "known_model_ids"]

REGISTRY_SCHEMA_VERSION = 1
_CONVENTIONS = {
    "tool_arguments": ("object", "string", "as_written"),
    "tool_call_content": ("keep", "none"),
    "tool_call_content_channel": ("content", "reasoning"),
    "second_oracle": ("", "openai-harmony"),
    "tool_declaration": ("json", "typescript"),
    "tool_call_name": ("field", "id"),
    "turn_end": ("token", "next_message"),
}


@dataclass(frozen=True)
class Variant:
    """One way of calling a model's template that is worth certifying."""

    name: str
    description: str
    template_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelEntry:
    model_id: str
    snapshot_name: str
    family: str
    end_of_turn: tuple[str, ...]
    pinned_date: str
    tool_arguments: str
    reasoning_field: str
    tool_call_content: str
    tool_call_content_channel: str
    variants: dict[str, Variant]
    root: Path
    # A second renderer from the model's makers that goldens are compared with ("" = none).
    second_oracle: str = ""
    # How upstream hands declared tools to the template: "json" (``tools`` only) or "typescript"
    # (Kimi K2.5/K2.6: also ``tools_ts_str``, built by conformance.tool_declarations).
    tool_declaration: str = "json"
    # Where a rendered tool call's function name is: "field" (the template writes function.name) or
    # "id" (Kimi: only the call id is written; upstream ids are "functions.<name>:<n>").
    tool_call_name: str = "field"
    # What closes an assistant turn: "token" (the template's own end-of-turn token) or
    # "next_message" (GLM-5: the next message's role marker; see conformance.oracle.turn_end).
    turn_end: str = "token"
    # Tokens that close an assistant turn in history where the template rewrites the sampled stop
    # (gpt-oss: a sampled <|return|> is written <|end|> once another message follows).
    history_end_of_turn: tuple[str, ...] = ()

    def variant(self, name: str) -> Variant:
        try:
            return self.variants[name]
        except KeyError:
            raise UnknownModelError(
                f"model {self.model_id} has no variant {name!r}; known: {', '.join(self.variants)}"
            ) from None

    def snapshot(self) -> Any:
        from conformance.snapshots import load_snapshot

        return load_snapshot(self.snapshot_name, self.root)

    def tokenizer(self) -> Any:
        from conformance.snapshots import load_tokenizer

        return load_tokenizer(self.snapshot())


def _parse_entry(model_id: str, raw: dict[str, Any], root: Path) -> ModelEntry:
    where = f"models.toml [models.{model_id!r}]"
    try:
        variants = {
            name: Variant(name, v.get("description", ""), dict(v.get("template_kwargs", {})))
            for name, v in raw["variants"].items()
        }
        entry = ModelEntry(
            model_id=model_id,
            snapshot_name=raw["snapshot"],
            family=raw["family"],
            end_of_turn=tuple(raw["end_of_turn"]),
            pinned_date=raw["pinned_date"],
            tool_arguments=raw.get("tool_arguments", "object"),
            reasoning_field=raw.get("reasoning_field", ""),
            tool_call_content=raw.get("tool_call_content", "keep"),
            tool_call_content_channel=raw.get("tool_call_content_channel", "content"),
            variants=variants,
            root=root,
            second_oracle=raw.get("second_oracle", ""),
            tool_declaration=raw.get("tool_declaration", "json"),
            tool_call_name=raw.get("tool_call_name", "field"),
            turn_end=raw.get("turn_end", "token"),
            history_end_of_turn=tuple(raw.get("history_end_of_turn", ())),
        )
    except KeyError as e:
        raise FixtureError(f"{where}: missing key {e.args[0]!r}") from None
    for key, allowed in _CONVENTIONS.items():
        if getattr(entry, key) not in allowed:
            raise FixtureError(f"{where}: {key} must be one of {allowed}")
    if not variants:
        raise FixtureError(f"{where}: no variants")
    return entry


@functools.cache
def _load(path: str, mtime: int) -> dict[str, ModelEntry]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise FixtureError(f"{p}: not valid TOML: {e}") from None
    if data.get("schema_version") != REGISTRY_SCHEMA_VERSION:
        raise FixtureError(f"{p}: schema_version must be {REGISTRY_SCHEMA_VERSION}")
    return {mid: _parse_entry(mid, raw, p.parent) for mid, raw in data.get("models", {}).items()}


def load_registry(root: Path | None = None) -> dict[str, ModelEntry]:
    """All registry entries, keyed by model id (in file order)."""
    p = (root or fixtures_root()) / "models.toml"
    return _load(str(p), p.stat().st_mtime_ns)


def known_model_ids(root: Path | None = None) -> list[str]:
    return list(load_registry(root))


def get_model(model_id: str, root: Path | None = None) -> ModelEntry:
    reg = load_registry(root)
    try:
        return reg[model_id]
    except KeyError:
        raise UnknownModelError(
            f"unknown model id {model_id!r}; known model ids: {', '.join(reg)}"
        ) from None
