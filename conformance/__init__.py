"""renderer-conformance: certify chat-template renderers against golden token fixtures.

Importing this package is cheap: nothing here imports ``transformers``. The heavy parts
(the oracle, the tokenizer loader) are imported on first use.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
