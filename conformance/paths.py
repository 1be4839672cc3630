"""Where the fixtures live.

Resolution order, first hit wins:
1. ``$CONFORMANCE_FIXTURES`` (a folder laid out like ``fixtures/``);
2. the repository's ``fixtures/`` next to this package (editable installs, a clone);
3. ``conformance/_fixtures`` (a wheel install, which force-includes the fixtures).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fixtures_root", "ENV_FIXTURES", "ENV_CASES"]

ENV_FIXTURES = "CONFORMANCE_FIXTURES"
ENV_CASES = "CONFORMANCE_CASES"

_HERE = Path(__file__).resolve().parent


def fixtures_root(override: str | os.PathLike[str] | None = None) -> Path:
    """Return the fixtures folder; it always holds ``models.toml``."""
    candidates: list[Path] = []
    if override:
        candidates.append(Path(override))
    env = os.environ.get(ENV_FIXTURES)
    if env:
        candidates.append(Path(env))
    candidates += [_HERE.parent / "fixtures", _HERE / "_fixtures"]
    for c in candidates:
        if (c / "models.toml").is_file():
            return c.resolve()
    from conformance.errors import FixtureError

    raise FixtureError(
        "no fixtures folder found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + f"); set ${ENV_FIXTURES} to a folder containing models.toml"
    )
