"""Summarizers: one interface (base), two backends (extractive, openai_compatible), quality metrics, the worker."""
