"""The pytest plugin (entry point ``pytest11: conformance``).

Light on purpose: importing it imports nothing heavy, and without ``--renderer`` (or
``$CONFORMANCE_RENDERER``) it registers its options and does nothing else. With ``--renderer`` it
loads the model and renderer once at session start (one readable error if either fails), and
replaces collection with the installed suite in ``conformance/suite`` (plus any paths given
explicitly), so it runs the same from any directory, inside any repository. The options are
defined once, in :mod:`conformance.options`.
"""

from __future__ import annotations

from typing import Any

from conformance.options import OPTIONS, RENDERER, value

__all__ = ["pytest_addoption", "pytest_configure"]


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("conformance", "renderer conformance suite")
    for opt in OPTIONS:
        group.addoption(opt.flag, dest=opt.dest, default=None, help=opt.help_text)


def pytest_configure(config: Any) -> None:
    if not value(config, RENDERER):
        return
    from conformance.suite.session import activate

    activate(config)
