"""The pytest plugin (entry point ``pytest11: conformance``).

Light on purpose: importing it imports nothing heavy, and without ``--renderer`` (or
``$CONFORMANCE_RENDERER``) it registers its options and does nothing else. With ``--renderer`` it
loads the model and renderer once at session start (one readable error if either fails), and
replaces collection with the installed suite in ``conformance/suite`` (plus any paths given
explicitly), so it runs the same from any directory, inside any repository.
"""

from __future__ import annotations

import os
from typing import Any

OPT_RENDERER = "--renderer"
OPT_MODEL = "--model"
OPT_VARIANT = "--conformance-variant"
OPT_ADAPTER = "--conformance-adapter"
OPT_XFAILS = "--conformance-xfails"
OPT_REPORT = "--conformance-report"
OPT_CASES = "--conformance-cases"
OPT_EXAMPLES = "--conformance-examples"
OPT_TIMEOUT = "--conformance-timeout"
OPT_SHRINK = "--conformance-shrink-seconds"

#: option -> (dest, environment fallback, help)
OPTIONS: dict[str, tuple[str, str, str]] = {
    OPT_RENDERER: ("conformance_renderer", "CONFORMANCE_RENDERER", "module:attr of the renderer to certify (instance, class or factory)"),
    OPT_MODEL: ("conformance_model", "CONFORMANCE_MODEL", "model id from the fixture registry"),
    OPT_VARIANT: (
        "conformance_variant",
        "CONFORMANCE_VARIANT",
        "template variant (default: the renderer's .variant, else the model's first)",
    ),
    OPT_ADAPTER: ("conformance_adapter", "CONFORMANCE_ADAPTER", "API style: auto (default), native, tinker, prime, tml"),
    OPT_XFAILS: (
        "conformance_xfails",
        "CONFORMANCE_XFAILS",
        "file of test-id prefixes expected to fail (strict), one per line, # comments",
    ),
    OPT_REPORT: ("conformance_report", "CONFORMANCE_REPORT", "write a JSON report of the run to this path"),
    OPT_CASES: ("conformance_cases", "CONFORMANCE_CASES", "extra case folders (os.pathsep-separated), checked live against the oracle"),
    OPT_EXAMPLES: ("conformance_examples", "CONFORMANCE_EXAMPLES", "hypothesis examples per generated-case test (default 25)"),
    OPT_TIMEOUT: ("conformance_timeout", "CONFORMANCE_TIMEOUT", "seconds one test may take before it fails (default 120)"),
    OPT_SHRINK: (
        "conformance_shrink_seconds",
        "CONFORMANCE_SHRINK_SECONDS",
        "seconds hypothesis may spend shrinking one failing generated conversation (default: hypothesis's own, 300)",
    ),
}


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("conformance", "renderer conformance suite")
    for opt, (dest, env, help_) in OPTIONS.items():
        group.addoption(opt, dest=dest, default=None, help=f"{help_} [env: {env}]")


def option(config: Any, opt: str) -> str | None:
    dest, env, _ = OPTIONS[opt]
    value = config.getoption(dest, default=None)
    return value if value is not None else (os.environ.get(env) or None)


def pytest_configure(config: Any) -> None:
    if not option(config, OPT_RENDERER):
        return
    from conformance.suite.session import activate

    activate(config)
