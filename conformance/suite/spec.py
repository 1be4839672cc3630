"""``--renderer module:attr``: from a spec to a renderer object.

The attribute may be a renderer instance, a class, a factory function, a ``functools.partial``, a
classmethod (``mypkg:MyRenderer.for_model``) or a callable object. Anything that already matches
a renderer API style is used as it is; anything else callable is called with the model's tokenizer
and, where its signature takes them, ``model_id=`` and ``variant=``:

* a positional (or ``*args``) parameter receives the tokenizer positionally;
* a keyword-only ``tokenizer`` parameter receives it by name;
* ``model_id`` / ``variant`` are passed where the signature names them, or takes ``**kwargs``
  (the thin subclass ``def __init__(self, *a, **k): super().__init__(*a, **k)`` forwards them).
  If such a ``**kwargs`` callable then rejects them (``unexpected keyword argument``), it is called
  again without them.

Every failure is one :class:`SetupError` line: what was called, the exception, and where in the
user's code it was raised.
"""

from __future__ import annotations

import inspect
import os
import pkgutil
import traceback
from typing import Any

from conformance.fixtures.registry import ModelEntry

__all__ = ["SetupError", "load_renderer", "call_factory"]


class SetupError(Exception):
    """Raised at session start; becomes one pytest usage error."""


_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # conformance/


def _where(e: BaseException) -> str:
    """`` (raised at file:line in func)`` for the innermost frame outside this package."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if not os.path.abspath(f.filename).startswith(_HERE)]
    if not frames:
        return ""
    f = frames[-1]
    return f" (raised at {f.filename}:{f.lineno} in {f.name})"


def _is_renderer(obj: Any) -> bool:
    from conformance.adapters import detect_style

    return not inspect.isclass(obj) and detect_style(obj) is not None


def call_factory(factory: Any, tokenizer: Any, model_id: str, variant: str | None) -> Any:
    """Call a class or factory as the module docstring describes."""
    try:
        sig: inspect.Signature | None = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins and C types have no signature
        sig = None
    if sig is None:
        return factory(tokenizer)
    params = sig.parameters
    kinds = {p.kind for p in params.values()}
    var_kw = inspect.Parameter.VAR_KEYWORD in kinds
    kwargs: dict[str, Any] = {}
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if "model_id" in named or var_kw:
        kwargs["model_id"] = model_id
    if variant and ("variant" in named or var_kw):
        kwargs["variant"] = variant
    args: tuple[Any, ...] = ()
    tok = params.get("tokenizer")
    if tok is not None and tok.kind == tok.KEYWORD_ONLY:
        kwargs["tokenizer"] = tokenizer
    elif kinds & {inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.VAR_POSITIONAL}:
        args = (tokenizer,)
    elif var_kw:
        kwargs["tokenizer"] = tokenizer
    forwarded = {k for k in ("model_id", "variant") if k in kwargs and k not in named}
    try:
        return factory(*args, **kwargs)
    except TypeError as e:
        # Only **kwargs received these: a wrapped callable that does not take them says so.
        if forwarded and any(f"unexpected keyword argument '{k}'" in str(e) for k in forwarded):
            return factory(*args, **{k: v for k, v in kwargs.items() if k not in forwarded})
        raise


def load_renderer(spec: str, entry: ModelEntry, variant: str | None) -> Any:
    """Resolve ``module:attr`` and turn it into a renderer object."""
    if ":" not in spec:
        raise SetupError(f"--renderer {spec!r}: expected module:attr (e.g. mypkg.renderers:MyRenderer)")
    try:
        obj = pkgutil.resolve_name(spec)
    except Exception as e:  # noqa: BLE001 - any import problem becomes one readable message
        hint = ""
        if isinstance(e, ModuleNotFoundError) and spec.split(":")[0].split(".")[0] == e.name:
            hint = " (is its folder on sys.path? run from the folder that holds it with PYTHONPATH=., or pip install it)"
        raise SetupError(f"--renderer {spec!r} cannot be imported: {type(e).__name__}: {e}{_where(e)}{hint}") from e
    if _is_renderer(obj) or not callable(obj):
        return obj
    try:
        return call_factory(obj, entry.tokenizer(), entry.model_id, variant)
    except Exception as e:  # noqa: BLE001 - the user's constructor failing is one readable start-up error
        raise SetupError(f"--renderer {spec!r} could not be built for {entry.model_id}"
                         f"{f' [{variant}]' if variant else ''}: {type(e).__name__}: {e}{_where(e)}") from e
