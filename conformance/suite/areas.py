"""The check areas, defined once: name, the capability a renderer must claim for it, the short
label of the report's matrix, and a one-line title.

Each area is one module ``conformance/suite/test_<name>.py`` (a test of the project checks the two
agree). The session's verdict, the JSON report, the parity report's matrix and its pages all read
this table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Area", "AREAS", "AREA_NAMES", "area", "area_of", "CAPABILITY_SKIP", "REFUSED"]

#: Skip reasons starting with this mean "the renderer does not claim it"; any other skip is a
#: fact about the template (a case it cannot render).
CAPABILITY_SKIP = "capability not claimed:"
#: Skip reasons starting with this are refusals: the renderer raised ValueError /
#: NotImplementedError on a case the template itself renders lossily (allowed, counted, listed).
REFUSED = "refused:"


@dataclass(frozen=True)
class Area:
    name: str
    capability: str | None  # attribute of Capabilities that must be True for the area to run (None: always)
    abbreviation: str
    title: str


AREAS: tuple[Area, ...] = (
    Area("template_parity", None, "par", "generation prompt and full render equal the template's ids"),
    Area("loss_weights", "supervised", "wts", "supervised examples weigh exactly the sampled tokens"),
    Area("roundtrip", "parse", "rt", "completions parse back to their message; truncation is not clean"),
    Area("extension", None, "ext", "the claimed extension property holds"),
    Area("bridge", "bridge", "brg", "the bridge keeps history byte for byte"),
    Area("pickle", None, "pkl", "the renderer pickles and behaves identically"),
    Area("stop_sequences", None, "stop", "stop ids close turns and are special tokens"),
    Area("injection", None, "inj", "content that spells special tokens stays text"),
    Area("generated", None, "gen", "generated conversations match the template live"),
    Area("threads", None, "thr", "calls from many threads give what each gives alone"),
    Area("streaming", "streaming", "str", "streamed parses add up to the one-shot parse"),
    Area("openai", "openai_message", "oai", "completions sent back as OpenAI messages render the same ids"),
    Area("images", "images", "img", "images become the processor's placeholder ids, weighing 0"),
)
AREA_NAMES: tuple[str, ...] = tuple(a.name for a in AREAS)
_BY_NAME = {a.name: a for a in AREAS}


def area(name: str) -> Area | None:
    return _BY_NAME.get(name)


def area_of(nodeid: str) -> str:
    """``.../test_loss_weights.py::test_x[...]`` -> ``loss_weights`` (the module name for a test
    outside the suite's areas, which then still counts towards the verdict)."""
    mod = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return mod[len("test_"):-len(".py")] if mod.startswith("test_") and mod.endswith(".py") else mod
