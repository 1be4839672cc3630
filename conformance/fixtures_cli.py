"""``conformance fixtures ...``: list, verify, regenerate and import tokenizer snapshots/goldens."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from conformance.errors import ConformanceError
from conformance.paths import fixtures_root

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("fixtures", help="tokenizer snapshots and golden fixtures")
    p.add_argument("--fixtures", help="fixtures folder (default: $CONFORMANCE_FIXTURES or the installed one)")
    fsub = p.add_subparsers(dest="fixtures_cmd", required=True)
    ls = fsub.add_parser("list", help="model ids, variants, snapshot, fidelity, license, golden status")
    ls.add_argument("--model", action="append", help="only this model id (repeatable)")
    ls.add_argument("--json-ids", action="store_true", help="print only the model ids, as one JSON list (for CI matrices)")
    v = fsub.add_parser("verify", help="re-derive every golden in memory and compare with the files")
    v.add_argument("--model", action="append", help="only this model id (repeatable)")
    r = fsub.add_parser("regenerate", help="write goldens (idempotent)")
    r.add_argument("--model", action="append", help="only this model id (repeatable)")
    i = fsub.add_parser("import", help="bring in a new tokenizer snapshot and generate its goldens")
    i.add_argument("dir", nargs="?", help="folder with tokenizer files (tokenizer.json, tokenizer_config.json, ...)")
    i.add_argument("--model-id", required=True)
    i.add_argument("--revision", required=True, help="upstream revision the files come from")
    i.add_argument("--from-hub", metavar="ID@REV", help="download the snapshot from the Hugging Face hub (needs network)")
    i.add_argument("--license", help="default: the previous snapshot's")
    i.add_argument("--fidelity", help="exact | exact-template | unpinned (default: the previous snapshot's)")
    i.add_argument("--like", metavar="MODEL_ID",
                   help="a new model id: its registry entry starts as a copy of this model's (family, conventions, "
                        "variants), to review before committing")


def run(args: argparse.Namespace) -> int:
    root = fixtures_root(args.fixtures)
    try:
        return {"list": _list, "verify": _verify, "regenerate": _regenerate, "import": _import}[args.fixtures_cmd](args, root)
    except ConformanceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _entries(args: argparse.Namespace, root: Path) -> list[Any]:
    from conformance.registry import get_model, load_registry

    if getattr(args, "model", None):
        return [get_model(m, root) for m in args.model]
    return list(load_registry(root).values())


def _list(args: argparse.Namespace, root: Path) -> int:
    import json

    from conformance.goldens import golden_dir

    if args.json_ids:
        print(json.dumps([e.model_id for e in _entries(args, root)]))
        return 0
    for e in _entries(args, root):
        snap = e.snapshot()
        m = snap.manifest
        has = (golden_dir(e) / "manifest.json").is_file()
        print(f"{e.model_id}")
        print(f"  snapshot  {snap.name} @ {m['upstream_revision']}  fidelity={m['fidelity']}  license={m['license']}")
        print(f"  goldens   {snap.content_hash} ({'present' if has else 'MISSING'})")
        print(f"  variants  {', '.join(e.variants)}")
    return 0


def _verify(args: argparse.Namespace, root: Path) -> int:
    import time

    from conformance.goldens import verify_model

    bad = 0
    entries = _entries(args, root)
    started = time.time()
    for k, e in enumerate(entries):
        if sys.stdout.isatty():  # a progress bar on a terminal; plain lines in logs
            done = int(20 * k / len(entries))
            print(f"\r[{'#' * done}{'.' * (20 - done)}] {k}/{len(entries)} verifying {e.model_id} ...", end="", flush=True)
        t = time.time()
        rep = verify_model(e)
        status = "ok" if rep.ok else "FAILED"
        print(f"\r{e.model_id}: {status} ({rep.checked} goldens re-derived in {time.time() - t:.0f} s)".ljust(100), flush=True)
        for p in rep.problems:
            print(f"  problem: {p}")
        for c in rep.changed_cases:
            print(f"  changed: {c}")
        for n in rep.notes:
            print(f"  note: {n}")
        bad += not rep.ok
    print(f"{len(entries) - bad} of {len(entries)} models verified in {time.time() - started:.0f} s", flush=True)
    return 1 if bad else 0


def _regenerate(args: argparse.Namespace, root: Path) -> int:
    from conformance.goldens import write_goldens

    for e in _entries(args, root):
        d = write_goldens(e)
        print(f"{e.model_id}: wrote {d.relative_to(root)}")
    return 0


def _set_snapshot_in_registry(root: Path, model_id: str, snapshot: str) -> None:
    """Point ``model_id`` at ``snapshot`` in models.toml, keeping comments and layout."""
    path = root / "models.toml"
    text = path.read_text(encoding="utf-8")
    header = re.escape(f'[models."{model_id}"]')
    pattern = re.compile(rf"({header}\s*\n(?:(?!\[).*\n)*?)snapshot = \"[^\"]*\"")
    new, n = pattern.subn(lambda m: f'{m.group(1)}snapshot = "{snapshot}"', text, count=1)
    if n != 1:
        raise ConformanceError(f"models.toml: cannot find the snapshot line of [models.\"{model_id}\"]")
    path.write_text(new, encoding="utf-8")


def _add_to_registry(root: Path, model_id: str, like: str, snapshot: str) -> None:
    """Append ``model_id`` to models.toml as a copy of ``like``'s entry (its table and its
    variants' tables, comments kept) pointing at ``snapshot``."""
    path = root / "models.toml"
    text = path.read_text(encoding="utf-8")
    start = text.find(f'[models."{like}"]')
    if start < 0:
        raise ConformanceError(f'models.toml: no [models."{like}"] to copy')
    nxt = re.compile(r'^\[models\."(?P<id>[^"]+)"', re.MULTILINE)
    end = next((m.start() for m in nxt.finditer(text, start + 1) if m.group("id") != like), len(text))
    block = text[start:end].rstrip() + "\n"
    block = block.replace(f'[models."{like}"', f'[models."{model_id}"')
    block = re.sub(r'^snapshot = "[^"]*"', f'snapshot = "{snapshot}"', block, count=1, flags=re.MULTILINE)
    path.write_text(text.rstrip() + "\n\n" + block, encoding="utf-8")


def _import(args: argparse.Namespace, root: Path) -> int:
    from conformance.golden_diff import diff_golden_folders
    from conformance.goldens import golden_dir, write_goldens
    from conformance.registry import get_model
    from conformance.snapshots import build_manifest, write_manifest

    if args.from_hub:
        src = _download_from_hub(args.from_hub)
    elif args.dir:
        src = Path(args.dir)
    else:
        raise ConformanceError("give a folder or --from-hub ID@REV")
    if not (src / "tokenizer.json").is_file():
        raise ConformanceError(f"{src}: no tokenizer.json")
    from conformance.registry import load_registry

    known = args.model_id in load_registry(root)
    if not known and not args.like:
        raise ConformanceError(f"{args.model_id} is not registered: name a registered model whose entry it starts from (--like)")
    if known and args.like:
        raise ConformanceError(f"{args.model_id} is registered already: --like is for a new model")
    old = get_model(args.model_id if known else args.like, root)
    old_snap = old.snapshot()
    old_golden = golden_dir(old) if known else None
    # A new model's snapshot is named after it; a new revision of a registered one also after the revision.
    name = f"{args.model_id.replace('/', '__')}" + (f"@{args.revision[:12]}" if known else "")
    dest = root / "tokenizers" / name
    if dest.exists():
        raise ConformanceError(f"{dest} already exists: snapshots are never edited; use another revision")
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("manifest.json", ".*"))
    if not (dest / "SOURCE.md").is_file():
        (dest / "SOURCE.md").write_text(
            f"# {args.model_id} @ {args.revision}\n\nImported with `conformance fixtures import` from `{src}`"
            f"{' (hub)' if args.from_hub else ''}. Previous snapshot: `{old_snap.name}`.\n",
            encoding="utf-8",
        )
    manifest = build_manifest(
        dest,
        model_id=args.model_id,
        revision=args.revision,
        family=old.family,
        license=args.license or old_snap.manifest["license"],
        fidelity=args.fidelity or old_snap.manifest["fidelity"],
    )
    write_manifest(dest, manifest)
    if known:
        _set_snapshot_in_registry(root, args.model_id, name)
    else:
        _add_to_registry(root, args.model_id, args.like, name)
    new = get_model(args.model_id, root)
    new_golden = write_goldens(new)
    print(f"imported {src} as {dest.relative_to(root)}; goldens in {new_golden.relative_to(root)}")
    if old_golden is None:
        print(f"a new model: review its entry in {root / 'models.toml'} (copied from {args.like}), then "
              f"`conformance fixtures regenerate --model {args.model_id}` if you change it")
        return 0
    summary = diff_golden_folders(old_golden, new_golden)
    print(summary.render())
    return 0


def _download_from_hub(spec: str) -> Path:  # pragma: no cover - needs network, never used in tests
    repo, _, rev = spec.partition("@")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as e:
        raise ConformanceError("--from-hub needs huggingface_hub") from e
    path = snapshot_download(
        repo, revision=rev or None,
        allow_patterns=["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json", "LICENSE*", "NOTICE*"],
    )
    return Path(path)

