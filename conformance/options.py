"""Every option of a certification run, defined once.

The pytest plugin registers them (:mod:`conformance.plugin`), the session reads them
(:mod:`conformance.suite.session`), ``conformance certify --help`` lists them and the report runner
passes them to each run it starts (:mod:`conformance.report.runner`): all from this table, so a
flag, its environment fallback, its default and its help are spelled in one place.

Importing this module imports nothing heavy (the plugin imports it at pytest start-up).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Option", "OPTIONS", "RENDERER", "MODEL", "VARIANT", "ADAPTER", "XFAILS", "REPORT", "CASES", "EXAMPLES", "TIMEOUT",
           "SHRINK_SECONDS", "THREAD_SECONDS", "INJECTION", "INJECTION_POLICIES", "ALL_VARIANTS", "value"]

#: ``--conformance-variant all``: every variant of the model in one run, one verdict per variant.
ALL_VARIANTS = "all"


@dataclass(frozen=True)
class Option:
    """One option: its flag, where pytest stores it, its environment fallback, its default (the
    value used when neither is given) and the help text (which states the default once, from here)."""

    flag: str
    dest: str
    env: str
    help: str
    default: Any = None
    type: Callable[[str], Any] = str

    @property
    def help_text(self) -> str:
        default = f"; default {self.default}" if self.default is not None else ""
        return f"{self.help}{default} [env: {self.env}]"


RENDERER = Option("--renderer", "conformance_renderer", "CONFORMANCE_RENDERER",
                  "module:attr of the renderer to certify (instance, class or factory); without it the plugin does nothing")
MODEL = Option("--model", "conformance_model", "CONFORMANCE_MODEL", "model id from the fixture registry (conformance fixtures list)")
VARIANT = Option("--conformance-variant", "conformance_variant", "CONFORMANCE_VARIANT",
                 f"template variant, or '{ALL_VARIANTS}' for every variant of the model in one run "
                 "(default: the renderer's .variant, else the model's first)")
ADAPTER = Option("--conformance-adapter", "conformance_adapter", "CONFORMANCE_ADAPTER",
                 "API style: auto, native, tinker, prime, tml", default="auto")
XFAILS = Option("--conformance-xfails", "conformance_xfails", "CONFORMANCE_XFAILS",
                "file of test-id prefixes expected to fail (strict), one per line, # comments")
REPORT = Option("--conformance-report", "conformance_report", "CONFORMANCE_REPORT", "write a JSON report of the run to this path")
CASES = Option("--conformance-cases", "conformance_cases", "CONFORMANCE_CASES",
               "extra case folders (os.pathsep-separated), checked live against the oracle")
EXAMPLES = Option("--conformance-examples", "conformance_examples", "CONFORMANCE_EXAMPLES",
                  "hypothesis examples per generated-case test", default=25, type=int)
TIMEOUT = Option("--conformance-timeout", "conformance_timeout", "CONFORMANCE_TIMEOUT",
                 "seconds one test may take before it fails", default=120.0, type=float)
SHRINK_SECONDS = Option("--conformance-shrink-seconds", "conformance_shrink_seconds", "CONFORMANCE_SHRINK_SECONDS",
                        "seconds hypothesis may spend shrinking one failing generated conversation "
                        "(always less than the test timeout)", default=20.0, type=float)
THREAD_SECONDS = Option("--conformance-thread-seconds", "conformance_thread_seconds", "CONFORMANCE_THREAD_SECONDS",
                        "seconds the threads area keeps running calls side by side while no race shows (a race is a "
                        "matter of chance: more seconds, more tries)", default=0.5, type=float)

INJECTION = Option("--conformance-injection", "conformance_injection", "CONFORMANCE_INJECTION",
                   "what message content that spells a special token must become: text (the standard: content stays text) or "
                   "literal (the ids of apply_chat_template(tokenize=True): content can forge role boundaries; the verdict says so)",
                   default="text")
INJECTION_POLICIES = ("text", "literal")

OPTIONS: tuple[Option, ...] = (RENDERER, MODEL, VARIANT, ADAPTER, XFAILS, REPORT, CASES, EXAMPLES, TIMEOUT, SHRINK_SECONDS,
                               THREAD_SECONDS, INJECTION)


def value(config: Any, opt: Option) -> Any:
    """The option's value: the command line, else its environment variable, else its default,
    converted with its type."""
    raw = config.getoption(opt.dest, default=None)
    if raw is None:
        raw = os.environ.get(opt.env) or None
    if raw is None:
        return opt.default
    try:
        return opt.type(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{opt.flag}: expected {opt.type.__name__}, got {raw!r}") from None
