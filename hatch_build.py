"""Build hook: a wheel carries the fixtures inside the package (``conformance/_fixtures``); an
editable install does not copy them (160 MB), since ``conformance.fixtures.paths`` reads ``./fixtures`` of
the checkout there."""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class FixturesHook(BuildHookInterface):  # type: ignore[misc]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version != "editable":
            build_data["force_include"]["fixtures"] = "conformance/_fixtures"
