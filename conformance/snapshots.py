"""Tokenizer snapshots: manifests, hash verification and the one offline loader.

A snapshot is a folder under ``fixtures/tokenizers/`` holding the files
``transformers.AutoTokenizer.from_pretrained`` needs, plus ``SOURCE.md`` (provenance, human
readable) and ``manifest.json`` (machine readable). Guarantees:

* Every file listed in the manifest is hashed before the tokenizer is built; a mismatch raises
  :class:`~conformance.errors.TamperedFixtureError` naming the file. Files present but not listed
  (other than the manifest itself) are reported too, so nothing rides along unrecorded.
* Loading never touches the network: ``HF_HUB_OFFLINE=1`` is set before ``transformers`` is
  imported and ``local_files_only=True`` is passed.
* The loaded backend class and a canary encoding are compared with the manifest, so a
  ``transformers`` release that silently rebuilds the pre-tokenizer (transformers issue 45488,
  DeepSeek-V3 losing every space) fails loudly instead of changing ids.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.errors import FixtureError, TamperedFixtureError
from conformance.paths import fixtures_root

__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "FIDELITY_LEVELS",
    "CANARY_TEXT",
    "Snapshot",
    "sha256_file",
    "load_snapshot",
    "build_manifest",
    "write_manifest",
    "load_tokenizer",
    "load_text_encoder",
]

MANIFEST_SCHEMA_VERSION = 1
FIDELITY_LEVELS = ("exact", "exact-template", "unpinned")
# Spaces, digits, CJK, emoji and a special-token look-alike: enough to notice a swapped
# pre-tokenizer or normalizer.
CANARY_TEXT = "Hello  world 12345\n\tnaïve 我在新加坡工作 🙂 <|im_end|> [INST]"
_NOT_HASHED = {"manifest.json"}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """A verified snapshot folder and its manifest."""

    name: str
    path: Path
    manifest: dict[str, Any]

    @property
    def model_id(self) -> str:
        return str(self.manifest["model_id"])

    @property
    def chat_template_sha256(self) -> str:
        return str(self.manifest["chat_template_sha256"])

    @property
    def content_hash(self) -> str:
        """Short hash of tokenizer files + template: names the golden folder for this snapshot."""
        h = hashlib.sha256()
        for name, meta in sorted(self.manifest["files"].items()):
            h.update(f"{name}\0{meta['sha256']}\n".encode())
        h.update(self.chat_template_sha256.encode())
        return h.hexdigest()[:16]


def _read_chat_template(folder: Path) -> str:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    cfg_path = folder / "tokenizer_config.json"
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        tpl = cfg.get("chat_template")
        if isinstance(tpl, str):
            return tpl
    raise FixtureError(f"{folder}: no chat template (chat_template.jinja or tokenizer_config.json)")


def build_manifest(
    folder: Path,
    *,
    model_id: str,
    revision: str,
    family: str,
    license: str,
    fidelity: str,
) -> dict[str, Any]:
    """Describe ``folder`` as it is now: every file's sha256 and size, the template hash, and
    what ``transformers`` loads it as (backend class, canary ids)."""
    if fidelity not in FIDELITY_LEVELS:
        raise FixtureError(f"fidelity must be one of {FIDELITY_LEVELS}, not {fidelity!r}")
    files = {
        p.name: {"sha256": sha256_file(p), "size": p.stat().st_size}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name not in _NOT_HASHED
    }
    tok = _hf_load(folder)
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "snapshot": folder.name,
        "model_id": model_id,
        "upstream_revision": revision,
        "family": family,
        "license": license,
        "fidelity": fidelity,
        "files": files,
        "chat_template_sha256": sha256_text(_read_chat_template(folder)),
        "backend": {
            "class": type(tok).__name__,
            "vocab_size": len(tok),
            "canary_text": CANARY_TEXT,
            "canary_ids": list(tok.encode(CANARY_TEXT, add_special_tokens=False)),
        },
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (folder / "manifest.json").write_text(text, encoding="utf-8")


def _verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    listed = manifest.get("files") or {}
    for name, meta in sorted(listed.items()):
        p = folder / name
        if not p.is_file():
            raise FixtureError(f"snapshot {folder.name}: {name} is listed in manifest.json but missing")
        size = p.stat().st_size
        if size != meta["size"] or sha256_file(p) != meta["sha256"]:
            raise TamperedFixtureError(
                f"snapshot {folder.name}: {name} does not match its manifest "
                f"(expected sha256 {meta['sha256']}, {meta['size']} bytes; found "
                f"{sha256_file(p)}, {size} bytes). Restore the file or re-import the snapshot."
            )
    extra = sorted(
        p.name for p in folder.iterdir() if p.is_file() and p.name not in listed and p.name not in _NOT_HASHED
    )
    if extra:
        raise TamperedFixtureError(
            f"snapshot {folder.name}: files not recorded in manifest.json: {', '.join(extra)}"
        )
    tpl = sha256_text(_read_chat_template(folder))
    if tpl != manifest["chat_template_sha256"]:
        raise TamperedFixtureError(
            f"snapshot {folder.name}: chat template sha256 {tpl} != manifest {manifest['chat_template_sha256']}"
        )


@functools.cache
def _load_snapshot_cached(path: str, mtime_key: tuple[float, ...]) -> Snapshot:
    folder = Path(path)
    mpath = folder / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"snapshot {folder.name}: manifest.json is missing ({mpath})") from None
    except json.JSONDecodeError as e:
        raise TamperedFixtureError(f"snapshot {folder.name}: manifest.json is not valid JSON: {e}") from None
    if manifest.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise FixtureError(
            f"snapshot {folder.name}: manifest schema_version {manifest.get('schema_version')!r}, "
            f"this version reads {MANIFEST_SCHEMA_VERSION}"
        )
    _verify_files(folder, manifest)
    return Snapshot(name=folder.name, path=folder, manifest=manifest)


def load_snapshot(name: str, root: Path | None = None) -> Snapshot:
    """Return the verified snapshot ``name`` (a folder under ``<fixtures>/tokenizers``)."""
    folder = (root or fixtures_root()) / "tokenizers" / name
    if not folder.is_dir():
        raise FixtureError(f"snapshot {name!r} is missing: no folder {folder}")
    # Re-verify when any file changes (tests tamper with copies in place).
    mtimes = tuple(sorted(p.stat().st_mtime_ns for p in folder.iterdir()))
    return _load_snapshot_cached(str(folder), mtimes)


def _offline_env() -> None:
    # Set before transformers/huggingface_hub are imported: they read these at import time.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def _hf_load(folder: Path) -> Any:
    _offline_env()
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    # transformers warns that torch is absent and about tokenizer_class names; neither matters
    # for tokenizers, and the manifest's backend check is the loud guard that does.
    hf_logging.set_verbosity_error()

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


@functools.cache
def _load_tokenizer_cached(path: str, content_hash: str) -> Any:
    folder = Path(path)
    snap = _load_snapshot_cached(path, tuple(sorted(p.stat().st_mtime_ns for p in folder.iterdir())))
    tok = _hf_load(folder)
    backend = snap.manifest["backend"]
    if type(tok).__name__ != backend["class"]:
        raise FixtureError(
            f"snapshot {snap.name}: transformers now loads it as {type(tok).__name__}, the manifest "
            f"records {backend['class']}; the installed transformers may rebuild the tokenizer "
            "differently (see transformers issue 45488). Pin transformers or re-import the snapshot."
        )
    ids = list(tok.encode(backend["canary_text"], add_special_tokens=False))
    if ids != backend["canary_ids"]:
        raise FixtureError(
            f"snapshot {snap.name}: canary text encodes to {ids}, manifest records "
            f"{backend['canary_ids']}: the installed tokenizers/transformers encode differently."
        )
    return tok


def load_tokenizer(snapshot: Snapshot) -> Any:
    """The HF tokenizer of a verified snapshot, cached per process. Never uses the network."""
    return _load_tokenizer_cached(str(snapshot.path), snapshot.content_hash)


@functools.cache
def _load_text_encoder_cached(path: str, content_hash: str) -> Any:
    from tokenizers import Tokenizer

    data = json.loads((Path(path) / "tokenizer.json").read_text(encoding="utf-8"))
    # Without the added vocabulary, no substring can become a special (or added) token: this is
    # how message *content* is encoded under our injection standard (README, "Special-token text
    # in content").
    data["added_tokens"] = []
    data["post_processor"] = None
    return Tokenizer.from_str(json.dumps(data))


def load_text_encoder(snapshot: Snapshot) -> Any:
    """A ``tokenizers.Tokenizer`` with the snapshot's normalizer, pre-tokenizer and BPE model but
    no added tokens: it encodes any string as plain text."""
    return _load_text_encoder_cached(str(snapshot.path), snapshot.content_hash)
