"""How a golden is made: the oracle and what it derives.

* :mod:`~conformance.oracle.template`: the model's own HF chat template run on the vendored
  snapshot (:class:`Oracle`), content encoded as text;
* :mod:`~conformance.oracle.harmony`: gpt-oss's second renderer from its makers (openai-harmony),
  recorded beside the template;
* :mod:`~conformance.oracle.derivation`: one golden record from prefix and probe renders;
* :mod:`~conformance.oracle.message_spans`, :mod:`~conformance.oracle.turn_spans`,
  :mod:`~conformance.oracle.turn_end`: which tokens belong to which message and turn, and what
  closes a turn, found by the template's behaviour.

Nothing under ``reference_renderers/`` but ``TemplateRenderer`` (the oracle behind the protocol)
imports from here (``tests/test_architecture.py``): the renderers under test find their spans on
their own. ``from conformance.oracle import Oracle`` is the oracle's public name.
"""

from __future__ import annotations

from conformance.oracle.template import GENERATOR_VERSION, Encoded, Oracle, TemplateRenderError

__all__ = ["GENERATOR_VERSION", "Encoded", "Oracle", "TemplateRenderError"]
