"""The conversation corpus: ``fixtures/conversations/*.json`` plus any extra folders a team adds.

Extra folders come from ``$CONFORMANCE_CASES`` (``os.pathsep``-separated) or the
``--conformance-cases`` option. Every file is validated against ``fixtures/schema/case.schema.json``
and every conversation with :func:`conformance.messages.validate_messages`; ids are unique across
all folders. Errors name the file, the case id and the message index.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.errors import FixtureError, InvalidMessagesError
from conformance.messages import validate_messages
from conformance.paths import ENV_CASES, fixtures_root

__all__ = ["Case", "load_cases", "load_case_file", "case_schema", "extra_case_dirs"]


@dataclass(frozen=True)
class Case:
    """One conversation. ``source`` is the file it came from; ``builtin`` is False for extra folders."""

    id: str
    description: str
    messages: tuple[dict[str, Any], ...]
    tools: tuple[dict[str, Any], ...] | None
    tags: tuple[str, ...]
    source: str
    builtin: bool = True

    def messages_list(self) -> list[dict[str, Any]]:
        return json.loads(json.dumps(list(self.messages)))

    def tools_list(self) -> list[dict[str, Any]] | None:
        return json.loads(json.dumps(list(self.tools))) if self.tools is not None else None

    @property
    def last_assistant_index(self) -> int | None:
        """Index of the final message if it is an assistant message, else None."""
        return len(self.messages) - 1 if self.messages[-1]["role"] == "assistant" else None


@functools.lru_cache(maxsize=4)
def case_schema(root: str | None = None) -> dict[str, Any]:
    path = Path(root or fixtures_root()) / "schema" / "case.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))


def load_case_file(path: Path, *, builtin: bool, schema: dict[str, Any]) -> list[Case]:
    import jsonschema

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise FixtureError(f"{path}: not valid JSON: {e}") from None
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda err: list(err.absolute_path))
    if errors:
        first = errors[0]
        loc = "/".join(str(p) for p in first.absolute_path)
        case_hint = ""
        if len(first.absolute_path) >= 2 and first.absolute_path[0] == "cases":
            try:
                case_hint = f" (case {data['cases'][first.absolute_path[1]].get('id')!r})"
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        raise FixtureError(f"{path}: schema violation at /{loc}{case_hint}: {first.message}")
    out = []
    for raw in data["cases"]:
        try:
            validate_messages(raw["messages"])
        except InvalidMessagesError as e:
            raise FixtureError(f"{path}: case {raw['id']!r}: {e}") from None
        out.append(
            Case(
                id=raw["id"],
                description=raw["description"],
                messages=tuple(raw["messages"]),
                tools=tuple(raw["tools"]) if "tools" in raw else None,
                tags=tuple(raw["tags"]),
                source=str(path),
                builtin=builtin,
            )
        )
    return out


def extra_case_dirs(option: str | None = None) -> list[Path]:
    raw = option if option is not None else os.environ.get(ENV_CASES, "")
    return [Path(p) for p in raw.split(os.pathsep) if p]


def load_cases(extra_dirs: Iterable[Path] = (), root: Path | None = None) -> list[Case]:
    """All cases, builtin first, then extra folders in order; ids must be unique."""
    root = root or fixtures_root()
    schema = case_schema(str(root))
    folders = [(root / "conversations", True)] + [(Path(d), False) for d in extra_dirs]
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for folder, builtin in folders:
        if not folder.is_dir():
            raise FixtureError(f"case folder {folder} does not exist")
        for path in sorted(folder.glob("*.json")):
            for c in load_case_file(path, builtin=builtin, schema=schema):
                if c.id in seen:
                    raise FixtureError(f"duplicate case id {c.id!r} in {path} (first in {seen[c.id]})")
                seen[c.id] = str(path)
                cases.append(c)
    return cases
