"""The golden store: ``fixtures/golden/<snapshot>/<content-hash>/``.

Layout of one golden folder::

    manifest.json                 schema/generator versions, library versions, registry pins,
                                  and the sha256 of every golden file below
    <variant>/<case-id>.json      one record per case (see conformance.oracle.derivation)

Guarantees: :func:`load_golden` checks the file against the manifest hash (a tampered golden is an
error naming the file); :func:`write_goldens` is deterministic (running it twice changes nothing);
:func:`verify_model` re-derives every golden in memory and names each case that differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import shutil
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from conformance import jsonfmt
from conformance.cases import Case, load_cases
from conformance.errors import FixtureError, TamperedFixtureError
from conformance.oracle import GENERATOR_VERSION, Oracle
from conformance.oracle.derivation import GOLDEN_SCHEMA_VERSION, derive_golden
from conformance.paths import fixtures_root
from conformance.registry import ModelEntry

__all__ = [
    "golden_dir",
    "golden_manifest_sha256",
    "library_versions",
    "write_goldens",
    "load_golden",
    "load_golden_manifest",
    "verify_model",
    "VerifyReport",
]

_LIBS = ("transformers", "tokenizers", "jinja2", "openai-harmony", "tiktoken")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in _LIBS:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = "not installed"
    return out


def golden_manifest_sha256(entry: ModelEntry) -> str:
    """sha256 of the golden manifest of ``entry`` (which hashes every golden), or ``missing``."""
    p = golden_dir(entry) / "manifest.json"
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "missing"


def golden_dir(entry: ModelEntry) -> Path:
    snap = entry.snapshot()
    return entry.root / "golden" / snap.name / snap.content_hash


def _registry_pins(entry: ModelEntry) -> dict[str, Any]:
    return {
        "model_id": entry.model_id,
        "family": entry.family,
        "end_of_turn": list(entry.end_of_turn),
        "pinned_date": entry.pinned_date,
        "tool_arguments": entry.tool_arguments,
        "reasoning_field": entry.reasoning_field,
        "tool_call_content": entry.tool_call_content,
        "tool_call_content_channel": entry.tool_call_content_channel,
        "second_oracle": entry.second_oracle,
        "tool_declaration": entry.tool_declaration,
        "tool_call_name": entry.tool_call_name,
        "turn_end": entry.turn_end,
        "history_end_of_turn": list(entry.history_end_of_turn),
        "variants": {v.name: {"description": v.description, "template_kwargs": v.template_kwargs} for v in entry.variants.values()},
    }


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.cache
def _golden_schema(root: str) -> tuple[dict[str, Any], Any]:
    import fastjsonschema

    schema = json.loads((Path(root) / "schema" / "golden.schema.json").read_text(encoding="utf-8"))
    return schema, fastjsonschema.compile(schema)


def golden_problems(record: dict[str, Any], root: Path | None = None) -> list[str]:
    """Where ``record`` departs from ``fixtures/schema/golden.schema.json`` (empty: it conforms).
    Every golden is written only if it conforms, and CI validates every stored one. The check is
    compiled (fastjsonschema, every golden in about a second); a record that fails it is
    described in full by ``jsonschema``."""
    import fastjsonschema

    schema, validate = _golden_schema(str(root or fixtures_root()))
    try:
        validate(record)
        return []
    except fastjsonschema.JsonSchemaException as e:
        import jsonschema

        found = [f"{'/'.join(map(str, err.absolute_path)) or '(record)'}: {err.message[:200]}"
                 for err in jsonschema.Draft7Validator(schema).iter_errors(record)]
        return found or [str(e)]


def _render_all(entry: ModelEntry, cases: list[Case]) -> dict[str, str]:
    oracle = Oracle(entry)
    out = {}
    for v in entry.variants.values():
        for c in cases:
            record = derive_golden(oracle, v, c)
            problems = golden_problems(record, entry.root)
            if problems:
                # A derivation that writes another format than the schema says is a bug to fix
                # (or a format change: schema, generator version and a reviewed diff together).
                raise FixtureError(f"{entry.model_id} [{v.name}] {c.id}: the derived golden does not match the schema: "
                                   + "; ".join(problems[:3]))
            out[f"{v.name}/{c.id}.json"] = jsonfmt.dumps(record)
    return out


def _manifest(entry: ModelEntry, files: dict[str, str]) -> dict[str, Any]:
    snap = entry.snapshot()
    return {
        "schema_version": GOLDEN_SCHEMA_VERSION,
        "generator_version": GENERATOR_VERSION,
        "snapshot": snap.name,
        "content_hash": snap.content_hash,
        "chat_template_sha256": snap.chat_template_sha256,
        "upstream_revision": snap.manifest["upstream_revision"],
        "fidelity": snap.manifest["fidelity"],
        "libraries": library_versions(),
        "registry": _registry_pins(entry),
        "files": {name: _sha(text) for name, text in sorted(files.items())},
    } | _second_oracle_summary(files)


def _second_oracle_summary(files: dict[str, str]) -> dict[str, Any]:
    """Counts of agree/differ/error per side over every golden that has a second oracle."""
    counts: dict[str, dict[str, int]] = {}
    name = None
    for text in files.values():
        rec = json.loads(text).get("second_oracle")
        if not rec:
            continue
        name = rec["name"]
        for side in ("prompt", "full", "completion"):
            r = rec[side]
            if "agrees" in r:
                k = "agree" if r["agrees"] else "differ"
            else:
                k = "template_error" if r.get("template_error") else "error"
            counts.setdefault(side, {}).setdefault(k, 0)
            counts[side][k] += 1
    if name is None:
        return {}
    return {"second_oracle": {"name": name, "counts": {side: dict(sorted(c.items())) for side, c in counts.items()}}}


def write_goldens(entry: ModelEntry, cases: list[Case] | None = None) -> Path:
    """(Re)write every golden of ``entry``; files for cases no longer in the corpus are removed."""
    cases = [c for c in (cases if cases is not None else load_cases(root=entry.root)) if c.builtin]
    files = _render_all(entry, cases)
    d = golden_dir(entry)
    if d.exists():
        for p in d.rglob("*.json"):
            rel = p.relative_to(d).as_posix()
            if rel != "manifest.json" and rel not in files:
                p.unlink()
        for sub in d.iterdir():
            if sub.is_dir() and not any(sub.iterdir()):
                shutil.rmtree(sub)
    for name, text in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
    man = jsonfmt.dumps(_manifest(entry, files))
    mp = d / "manifest.json"
    if not mp.exists() or mp.read_text(encoding="utf-8") != man:
        mp.write_text(man, encoding="utf-8")
    return d


def load_golden_manifest(entry: ModelEntry) -> dict[str, Any]:
    d = golden_dir(entry)
    mp = d / "manifest.json"
    if not mp.is_file():
        raise FixtureError(
            f"no goldens for {entry.model_id} at snapshot {d.parent.name} content hash {d.name} "
            f"({d}); run `conformance fixtures regenerate --model {entry.model_id}`"
        )
    try:
        return json.loads(mp.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise TamperedFixtureError(f"{mp}: not valid JSON: {e}") from None


def load_golden(entry: ModelEntry, variant: str, case_id: str, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """One golden record, hash-checked against the golden manifest."""
    manifest = manifest or load_golden_manifest(entry)
    name = f"{variant}/{case_id}.json"
    expected = manifest["files"].get(name)
    if expected is None:
        raise FixtureError(f"{entry.model_id}: no golden {name} in {golden_dir(entry)}")
    p = golden_dir(entry) / name
    text = p.read_text(encoding="utf-8")
    if _sha(text) != expected:
        raise TamperedFixtureError(f"golden {p} does not match the sha256 in its manifest: edited by hand? Regenerate it.")
    return json.loads(text)


@dataclass
class VerifyReport:
    model_id: str
    problems: list[str] = field(default_factory=list)
    changed_cases: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.changed_cases


def verify_model(entry: ModelEntry, cases: list[Case] | None = None) -> VerifyReport:
    """Re-derive every golden of ``entry`` in memory and compare with the files on disk."""
    rep = VerifyReport(entry.model_id)
    try:
        entry.snapshot()
        manifest = load_golden_manifest(entry)
    except FixtureError as e:
        rep.problems.append(str(e))
        return rep
    d = golden_dir(entry)
    cases = [c for c in (cases if cases is not None else load_cases(root=entry.root)) if c.builtin]
    files = _render_all(entry, cases)
    fresh = _manifest(entry, files)
    for key in ("schema_version", "generator_version", "snapshot", "content_hash", "chat_template_sha256", "registry"):
        if manifest.get(key) != fresh[key]:
            rep.problems.append(f"stale manifest {d / 'manifest.json'}: {key} is {manifest.get(key)!r}, now {fresh[key]!r}")
    if manifest.get("libraries") != fresh["libraries"]:
        # Not a failure by itself: only a difference in the goldens is. Said so the reader knows
        # which library moved when something did change.
        rep.notes.append(f"generated with {manifest.get('libraries')}, installed {fresh['libraries']}")
    on_disk = {p.relative_to(d).as_posix() for p in d.rglob("*.json")} - {"manifest.json"}
    for name in sorted(on_disk - set(files)):
        rep.problems.append(f"golden {name} is not produced by the current corpus (stale); regenerate")
    for name in sorted(set(manifest.get("files", {})) ^ set(files)):
        if name in files:
            rep.problems.append(f"manifest does not list {name}; regenerate")
    for name, text in sorted(files.items()):
        rep.checked += 1
        p = d / name
        if not p.is_file():
            rep.changed_cases.append(f"{name}: missing")
            continue
        disk = p.read_text(encoding="utf-8")
        if _sha(disk) != manifest.get("files", {}).get(name):
            rep.problems.append(f"tampered golden {name}: its sha256 does not match the manifest")
        if disk != text:
            rep.changed_cases.append(f"{name}: {_first_difference(disk, text)}")
    return rep


def _first_difference(old_text: str, new_text: str) -> str:
    from conformance.golden_diff import first_record_difference

    try:
        old, new = json.loads(old_text), json.loads(new_text)
    except json.JSONDecodeError:
        return "file is not valid JSON"
    return first_record_difference(old, new) or "bytes differ (formatting)"
