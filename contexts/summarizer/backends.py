"""The summarizer backends, built from the platform's settings."""

from __future__ import annotations

from django.conf import settings

from contexts.summarizer.base import Summarizer, SummarizerError
from contexts.summarizer.config import BACKEND_NAMES
from contexts.summarizer.extractive import ExtractiveSummarizer
from contexts.summarizer.openai_compatible import OpenAICompatibleSummarizer


def build_backend(name: str, *, timeout: float | None = None) -> Summarizer:
    """A backend by name, configured by SUMMARIZER_URL, SUMMARIZER_API_KEY and SUMMARIZER_TIMEOUT."""
    if name == "extractive":
        return ExtractiveSummarizer()
    if name == "openai":
        return OpenAICompatibleSummarizer(
            base_url=settings.SUMMARIZER_URL, api_key=settings.SUMMARIZER_API_KEY,
            timeout=timeout if timeout is not None else settings.SUMMARIZER_TIMEOUT,
            max_input_chars=settings.SUMMARIZER_MAX_INPUT_CHARS,
        )
    raise SummarizerError(f"No summarizer backend is called {name!r}; there are {', '.join(BACKEND_NAMES)}.",
                          retryable=False)
