"""Fixtures for the summaries: a local chat-completions server, a worker, tenants with their config."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from contexts.summarizer.worker import Worker
from tests.summaries.chat_server import ChatCompletionsServer


@pytest.fixture
def chat_server() -> Iterator[ChatCompletionsServer]:
    server = ChatCompletionsServer().start()
    yield server
    server.stop()


@pytest.fixture
def openai_settings(settings: Any, chat_server: ChatCompletionsServer) -> Any:
    """The platform's settings pointing the openai backend at the local server."""
    settings.SUMMARIZER_URL = chat_server.url
    settings.SUMMARIZER_MODEL = "local-test-model"
    settings.SUMMARIZER_API_KEY = "sk-test-key"
    settings.SUMMARIZER_TIMEOUT = 5
    return settings


@pytest.fixture
def worker() -> Iterator[Worker]:
    made = Worker(worker_id="test-worker")
    yield made
    made.close()


@pytest.fixture
def in_acme(acme: Any) -> Iterator[Any]:
    with tenant_context(acme):
        yield acme


def until(condition: Callable[[], Any], *, timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll until the condition holds (and return its value); fail after the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}.")
        time.sleep(0.02)
