"""A finding's reproduction as a Python script that needs only the library and ``transformers``.

What a maintainer pastes into their own environment: the model's tokenizer, the case's messages as
a Python literal, the ids the template gives for it (as the goldens hold them; the script also
calls ``apply_chat_template`` and says whether it agrees, since a standard decision such as content
encoded as text can make them differ), the library's renderer built exactly as the conformance
factory builds it (:func:`conformance.peers.construction_source`), the call the adapter makes, and
the first divergence printed side by side. It ends with ``assert actual == expected``: it fails
while the finding stands and passes once it is fixed.

Scripts exist for findings whose smallest reproduction compares ids or weights of a built-in case:
a generation prompt, a full render, a supervised example. Other findings (parse, stop ids, bridge,
injection, generated conversations) keep the reproduction text of their test.
"""

from __future__ import annotations

import inspect
import pprint
import re
from typing import Any

from conformance.suite.findings import PLAIN_CALLS

__all__ = ["reproduction_script", "SCRIPT_KINDS"]

#: the check whose failure a script reproduces -> what it compares (the suite's plain calls)
SCRIPT_KINDS = PLAIN_CALLS

_TINKER_TRAIN_ON = "from tinker_cookbook.renderers import TrainOnWhat\n\n"


def _helpers(style: str) -> str:
    """The adapter's own conversion functions, as source: the script calls the library the way
    the certification did."""
    if style == "tinker":
        from conformance.adapters import tinker

        return inspect.getsource(tinker._to_tinker) + "\n\n" + inspect.getsource(tinker.to_tinker_conversation)
    if style == "tml":
        from conformance.adapters import tml

        return "\n\n".join(inspect.getsource(f) for f in (tml._ids, tml._to_oss, tml.to_tml_messages))
    return ""


def _call(style: str, kind: str, train_on: str) -> str | None:
    """Source that sets ``actual`` (and ``weights`` for a supervised example)."""
    if style == "prime":
        return {
            "prompt": "actual = [int(i) for i in renderer.render_ids(messages, tools=tools, add_generation_prompt=True)]\n",
            "full": "actual = [int(i) for i in renderer.render(messages, tools=tools).token_ids]\n",
            "supervised": ("sample = R.build_training_sample(renderer, messages, tools=tools) if tools else "
                           "R.build_training_sample(renderer, messages)\n"
                           "actual, weights = [int(i) for i in sample.token_ids], [float(w) for w in sample.loss_mask]\n"),
        }.get(kind)
    if style == "tinker":
        from conformance.adapters.tinker import _TRAIN_ON

        convo = "conversation = to_tinker_conversation(renderer, messages, tools)\n"
        if kind == "prompt":
            return convo + "actual = renderer.build_generation_prompt(conversation, role='assistant').to_ints()\n"
        if kind == "supervised":
            return (_TINKER_TRAIN_ON + convo + "model_input, w = renderer.build_supervised_example(conversation, "
                    f"TrainOnWhat.{_TRAIN_ON[train_on]})\n"
                    "actual = model_input.to_ints()\nweights = [float(x) for x in (w.tolist() if hasattr(w, 'tolist') else w)]\n")
        return None
    if style == "tml":
        declare = ("# a leading tool_declare message where the renderer takes one (DeepSeek's reject it)\n"
                   "declare = bool(tools)\nif declare:\n    try:\n"
                   "        renderer.render_for_completion(to_tml_messages([{'role': 'user', 'content': 'x'}], tools, True))\n"
                   "    except ValueError as e:\n        if 'Unsupported content type' not in str(e):\n            raise\n"
                   "        declare = False\n")
        if kind == "prompt":
            return declare + "spans, _ = renderer.render_for_completion(to_tml_messages(messages, tools, declare))\nactual = _ids(spans)\n"
        if kind == "supervised":
            return (declare + "example = renderer.render_for_sft(to_tml_messages(messages, tools, declare))[-1]\n"
                    "actual = _ids(example.input_token_spans)\nweights = [float(w) for w in example.per_token_loss_weight_unshifted]\n")
    return None


def _kind(nodeid: str) -> tuple[str, str] | None:
    m = re.match(r"test_\w+\.py::(test_\w+)\[(.*)\]$", nodeid)
    if not m or m.group(1) not in SCRIPT_KINDS:
        return None
    kind, params = SCRIPT_KINDS[m.group(1)], m.group(2)
    train_on = ""
    if kind == "supervised":
        from conformance.protocol import TRAIN_ON

        train_on = next((t for t in TRAIN_ON if params.endswith("-" + t)), "")
        if not train_on:
            return None
    return kind, train_on


_COMPARE = '''
def piece(i):
    return None if i is None else tok.decode([i], skip_special_tokens=False)


def show(expected, actual, what):
    k = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
    print(f"{what}: first divergence at token {k} (expected {len(expected)} ids, got {len(actual)})")
    print(f"{'pos':>6}   {'expected':>8} {'':<28} {'actual':>8}")
    for i in range(max(0, k - 4), min(max(len(expected), len(actual)), k + 8)):
        e = expected[i] if i < len(expected) else None
        a = actual[i] if i < len(actual) else None
        print(f"{i:>6} {'!' if e != a else ' '} {e!s:>8} {piece(e)!r:<28} {a!s:>8} {piece(a)!r}")


if actual != expected:
    show(expected, actual, CALL)
assert actual == expected, "the ids differ from the template's (above)"
'''

_COMPARE_WEIGHTS = '''
trained = [i for i, w in enumerate(weights) if w > 0]
if trained != should_train:
    extra = sorted(set(trained) - set(should_train))[:8]
    missing = sorted(set(should_train) - set(trained))[:8]
    print("trained but should not be:", [(i, piece(actual[i])) for i in extra])
    print("not trained but should be:", [(i, piece(actual[i])) for i in missing])
assert trained == should_train, "the weights select other tokens than the ones the model samples (above)"
'''


def reproduction_script(impl: str, finding: dict[str, Any], results: dict[str, Any]) -> str | None:
    """The script for one finding of ``impl`` (a peer: prime, tinker or tml), or None where its
    reproduction is not an id or weight comparison of a built-in case."""
    from conformance.fixtures.cases import load_cases
    from conformance.fixtures.golden_record import Reason, Spans
    from conformance.fixtures.goldens import load_golden, load_golden_manifest
    from conformance.fixtures.registry import get_model
    from conformance.peers import PEERS, PeerMismatchError, construction_source

    rep = finding.get("reproduction") or {}
    if impl not in PEERS or not rep.get("nodeid"):
        return None
    how = _kind(rep["nodeid"])
    case = next((c for c in load_cases() if c.id == rep.get("case")), None)
    if how is None or case is None:
        return None
    kind, train_on = how
    style = PEERS[impl].style
    call = _call(style, kind, train_on)
    try:
        build = construction_source(impl, rep["model"], rep["variant"])
    except PeerMismatchError:
        return None
    if call is None:
        return None
    entry = get_model(rep["model"])
    variant = entry.variant(rep["variant"])
    golden = load_golden(entry, variant.name, case.id, load_golden_manifest(entry))
    side = golden.prompt if kind == "prompt" else golden.full
    if isinstance(side, Reason):
        return None
    expected = side.ids
    messages, tools = case.messages_list(), case.tools_list()
    if kind == "prompt":
        last = case.last_assistant_index
        messages = messages[:last] if last is not None else messages
    if kind == "supervised":
        expected += golden.tail_ids
        weights = (golden.weights or {}).get(train_on)
        if not isinstance(weights, Spans):
            return None
        spans = [list(s) for s in weights.spans]
    snap = (results.get("snapshots") or {}).get(rep["model"], {})
    versions = ", ".join(f"{k} {v}" for k, v in sorted((results.get("environments", {}).get(impl) or {}).items())
                         if k not in ("ok", "env", "executable", "error"))
    kwargs = {**variant.template_kwargs, **({"add_generation_prompt": True} if kind == "prompt" else {})}
    what = {"prompt": "generation prompt", "full": "full conversation", "supervised": f"supervised example ({train_on})"}[kind]
    decision = finding.get("decision") or ""
    lines = [
        # A raw docstring: titles and case descriptions may hold backslashes (\\u escapes).
        'r"""' + finding["title"].replace('"""', "'''"),
        "",
        f"{finding['class']} finding of {impl} ({versions or 'see the report'}) on {rep['model']} [{variant.name}],",
        f"case {case.id!r}: {case.description}",
        f"Expected: the template's {what} ids, as the conformance goldens hold them for the snapshot"
        + (f" {snap.get('snapshot')}" if snap.get("snapshot") else "") + ".",
        *([f"The expectation rests on a decision of the conformance standard: {decision}"] if decision else []),
        "",
        "Run: python this_file.py [a local snapshot folder of the model]. It fails while the finding stands.",
        '"""',
        "",
        "import json  # noqa: F401 - used by the conversion helpers",
        "import sys",
        "from collections.abc import Sequence  # noqa: F401",
        "from typing import Any  # noqa: F401",
        "",
        "from transformers import AutoTokenizer",
        "",
        f"MODEL = {rep['model']!r}",
        "tok = AutoTokenizer.from_pretrained(sys.argv[1] if len(sys.argv) > 1 else MODEL)",
        "",
        f"messages = {pprint.pformat(messages, width=110, sort_dicts=False)}",
        f"tools = {pprint.pformat(tools, width=110, sort_dicts=False) if tools else None}",
        "",
        f"expected = {expected!r}",
        *([f"should_train = {sorted({i for s, e in spans for i in range(s, min(e, len(expected)))})!r}"] if kind == "supervised" else []),
        f"CALL = {what!r}",
        "",
        "# The template itself, for comparison (a standard decision can make it differ from `expected`).",
        "try:",
        f"    template = tok.apply_chat_template(messages, tools=tools, tokenize=True, **{kwargs!r})",
        "    template = [int(i) for i in (template['input_ids'] if hasattr(template, 'keys') else template)]",
        "    print('apply_chat_template gives exactly the expected ids:', template == expected)",
        "except Exception as e:  # e.g. a template that wants tool-call arguments as a mapping, not JSON text",
        "    print(f'apply_chat_template raised {type(e).__name__}: {e}')",
        "",
        _helpers(style).rstrip(),
        "",
        build.rstrip(),
        call.rstrip(),
        _COMPARE.rstrip(),
        *([_COMPARE_WEIGHTS.rstrip()] if kind == "supervised" else []),
        "",
    ]
    return "\n".join(lines)
