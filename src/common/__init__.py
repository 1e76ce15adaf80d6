"""Helpers every layer may use: no imports from the rest of ``src``."""
