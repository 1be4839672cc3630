"""Exceptions with messages a user can act on. Every one names what was wrong and where."""

from __future__ import annotations

__all__ = [
    "ConformanceError",
    "FixtureError",
    "TamperedFixtureError",
    "UnknownModelError",
    "InvalidMessagesError",
]


class ConformanceError(Exception):
    """Base class for every error this project raises on purpose."""


class FixtureError(ConformanceError):
    """A fixture (snapshot, golden, case file) is missing, malformed or out of date."""


class TamperedFixtureError(FixtureError):
    """A fixture file's bytes do not match the sha256 its manifest records."""


class UnknownModelError(ConformanceError, KeyError):
    """A model id that the registry does not know. The message lists the known ids."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class InvalidMessagesError(ConformanceError, ValueError):
    """A conversation that is not well formed. The message names the message index."""
