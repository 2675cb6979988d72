"""Summaries from any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

Through the official openai client, with its own retries off: the worker retries
with backoff and jitter (contexts.summaries), and one failed call is one attempt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contexts.summarizer.base import Draft, SummarizerError

if TYPE_CHECKING:
    import openai

SYSTEM_PROMPT = (
    "You summarize documents for an application that stores them as context. Write a short, faithful summary "
    "of the document the user sends: at most five sentences, in the document's own language, plain text, no "
    "preamble. Keep names, numbers and decisions; leave out what is repeated."
)
MAX_OUTPUT_TOKENS = 400
# Answers that say the endpoint will not do better if asked again (bad request, credentials, no such model).
PERMANENT_STATUSES = {400, 401, 403, 404, 422}


class OpenAICompatibleSummarizer:
    """Ask a chat-completions endpoint for a summary; report its token usage; fail in one line."""

    name = "openai"

    def __init__(self, *, base_url: str, api_key: str, timeout: float, max_input_chars: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_input_chars = max_input_chars
        self._client: openai.OpenAI | None = None
        self._api_key = api_key

    @property
    def client(self) -> openai.OpenAI:
        # Imported here: the client takes about 1.5 s to import, which no process that does not call it should pay.
        import openai

        if self._client is None:
            # Local servers (Ollama, llama.cpp) take no key, but the client insists on one.
            self._client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key or "not-needed",
                                         timeout=self.timeout, max_retries=0)
        return self._client

    def summarize(self, *, title: str, content: str, model: str) -> Draft:
        if not self.base_url:
            raise SummarizerError("SUMMARIZER_URL is not set: the openai backend needs an endpoint.", retryable=False)
        if not model:
            raise SummarizerError("No model: set SUMMARIZER_MODEL or the tenant's summaries.model.", retryable=False)
        import openai

        truncated = len(content) > self.max_input_chars
        document = (f"Title: {title}\n\n" if title else "") + content[: self.max_input_chars]
        try:
            response = self.client.chat.completions.create(
                model=model, temperature=0, max_tokens=MAX_OUTPUT_TOKENS,
                messages=[{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": document}],
            )
        except openai.APITimeoutError:
            raise SummarizerError(f"{self.base_url} did not answer within {self.timeout:g} s.") from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise SummarizerError(f"Cannot reach {self.base_url}: {cause}") from None
        except openai.APIStatusError as exc:
            raise SummarizerError(
                f"{self.base_url} answered {exc.status_code}: {_detail(exc)}",
                retryable=exc.status_code not in PERMANENT_STATUSES,
            ) from None
        except openai.OpenAIError as exc:  # an answer the client could not read as a chat completion
            raise SummarizerError(f"{self.base_url} sent an answer that is not a chat completion: {exc}") from None
        if not hasattr(response, "choices"):  # a 200 whose body is not JSON comes back as text
            raise SummarizerError(f"{self.base_url} sent an answer that is not a chat completion.")
        choice = response.choices[0] if response.choices else None
        summary = (choice.message.content or "").strip() if choice is not None and choice.message else ""
        if not summary:
            raise SummarizerError(f"{self.base_url} answered with no summary (model {model}).")
        usage = response.usage
        return Draft(
            text=summary, model=response.model or model, truncated=truncated,
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _detail(exc: Any) -> str:
    """The endpoint's own words about the error, when its body carries any."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else error or body.get("message")
        if message:
            return str(message)
    return exc.message
