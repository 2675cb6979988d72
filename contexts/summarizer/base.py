"""What every summarizer backend is: text in, a draft summary out, or a one-line error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SummarizerError(Exception):
    """A backend could not summarize; the message is one line fit for an operator, and says whether to retry."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(" ".join(message.split())[:500])
        self.retryable = retryable


@dataclass(frozen=True)
class Draft:
    """A backend's answer: the summary's text, the model that wrote it and what it cost."""

    text: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    truncated: bool = False  # the backend read only the start of a long context


class Summarizer(Protocol):
    """Summarize a context's title and content with a model (each backend says what its models are)."""

    name: str

    def summarize(self, *, title: str, content: str, model: str) -> Draft: ...

    def close(self) -> None: ...
