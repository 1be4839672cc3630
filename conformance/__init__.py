"""renderer-conformance: certify chat-template renderers against golden token fixtures.

Importing this package is cheap: nothing here imports ``transformers``. The heavy parts
(the oracle, the tokenizer loader) are imported on first use.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "text_encoder"]


def text_encoder(model_id: str) -> Any:
    """The model's tokenizer as the standard encodes: template text with special tokens, content
    always as text (:class:`conformance.encoding.TextEncoder`). Imports transformers on first use."""
    from conformance.encoding import text_encoder as make

    return make(model_id)
