"""The conformance suite: one module per check area, collected by the plugin with ``--renderer``."""
