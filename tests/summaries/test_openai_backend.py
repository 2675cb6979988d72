"""The OpenAI-compatible backend against a local server that speaks the chat-completions protocol."""

from __future__ import annotations

import socket

import pytest

from contexts.summarizer.base import SummarizerError
from contexts.summarizer.openai_compatible import OpenAICompatibleSummarizer


def backend(url: str, *, timeout: float = 5, max_input_chars: int = 48_000) -> OpenAICompatibleSummarizer:
    return OpenAICompatibleSummarizer(base_url=url, api_key="sk-test-key", timeout=timeout,
                                      max_input_chars=max_input_chars)


def test_a_summary_comes_back_with_its_model_and_the_tokens_it_used(chat_server):
    draft = backend(chat_server.url).summarize(title="Bank", content="Call the bank about the mortgage rate.",
                                               model="llama3.1:8b")
    assert draft.text == "Summary: Title: Bank Call the bank about the mortgage rate."
    assert (draft.model, draft.input_tokens, draft.output_tokens, draft.truncated) == ("llama3.1:8b", 9, 10, False)
    (request,) = chat_server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test-key"
    body = request["body"]
    assert body["model"] == "llama3.1:8b" and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][1]["content"] == "Title: Bank\n\nCall the bank about the mortgage rate."


def test_a_long_context_is_sent_cut_and_says_so(chat_server):
    draft = backend(chat_server.url, max_input_chars=100).summarize(title="", content="word " * 1000, model="m")
    assert draft.truncated
    assert len(chat_server.requests[0]["body"]["messages"][1]["content"]) == 100


def test_a_server_error_is_one_retryable_line(chat_server):
    chat_server.default = 500
    with pytest.raises(SummarizerError) as error:
        backend(chat_server.url).summarize(title="", content="text", model="m")
    assert str(error.value) == f"{chat_server.url} answered 500: Simulated failure 500"
    assert error.value.retryable and "\n" not in str(error.value)
    assert len(chat_server.requests) == 1  # the client's own retries are off: the worker retries with backoff


def test_refused_credentials_are_not_retried(chat_server):
    chat_server.default = 401
    with pytest.raises(SummarizerError, match="answered 401") as error:
        backend(chat_server.url).summarize(title="", content="text", model="m")
    assert not error.value.retryable
    chat_server.default = 429
    with pytest.raises(SummarizerError, match="answered 429") as error:
        backend(chat_server.url).summarize(title="", content="text", model="m")
    assert error.value.retryable


def test_an_endpoint_that_does_not_answer_in_time_times_out(chat_server):
    chat_server.default = "hold"
    with pytest.raises(SummarizerError) as error:
        backend(chat_server.url, timeout=0.5).summarize(title="", content="text", model="m")
    assert str(error.value) == f"{chat_server.url} did not answer within 0.5 s."
    assert error.value.retryable


def test_an_endpoint_nobody_listens_on_is_one_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SummarizerError, match=rf"^Cannot reach http://127.0.0.1:{port}/v1: ") as error:
        backend(f"http://127.0.0.1:{port}/v1").summarize(title="", content="text", model="m")
    assert error.value.retryable and "\n" not in str(error.value)


def test_an_answer_without_text_or_not_json_is_an_error(chat_server):
    chat_server.script = ["empty", "garbage"]
    with pytest.raises(SummarizerError, match="answered with no summary"):
        backend(chat_server.url).summarize(title="", content="text", model="m")
    with pytest.raises(SummarizerError):
        backend(chat_server.url).summarize(title="", content="text", model="m")


def test_without_an_endpoint_or_a_model_nothing_is_sent():
    with pytest.raises(SummarizerError, match="SUMMARIZER_URL is not set") as error:
        backend("").summarize(title="", content="text", model="m")
    assert not error.value.retryable
    with pytest.raises(SummarizerError, match="No model") as error:
        backend("http://127.0.0.1:9/v1").summarize(title="", content="text", model="")
    assert not error.value.retryable
