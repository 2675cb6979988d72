"""A request warning is logged once, by the project's handler, with the request's context."""

import logging

import pytest

from tests.conftest import run_manage

REQUESTS = """
from django.test import Client
Client().get("/nope-once", HTTP_HOST="nosuch.localhost")
Client(enforce_csrf_checks=True).post("/admin/login/", HTTP_HOST="localhost")
"""


@pytest.mark.subprocess
def test_a_404_and_a_403_are_each_logged_once_with_debug_on(committed):
    result = run_manage("shell", "-c", REQUESTS, env={"DEBUG": "true", "LOG_FORMAT": "plain"})

    assert result.returncode == 0, result.stderr
    not_found = [line for line in result.stderr.splitlines() if "Not Found: /nope-once" in line]
    forbidden = [line for line in result.stderr.splitlines() if "Forbidden (CSRF cookie not set.)" in line]
    assert len(not_found) == 1, result.stderr
    assert len(forbidden) == 1, result.stderr
    # The one line is the project's: level, logger, and the request's context in brackets.
    assert " WARNING django.request [" in not_found[0]
    assert " WARNING django.security.csrf [" in forbidden[0]


def handlers_emitting(logger_name: str, level: int) -> list[logging.Handler]:
    """The handlers a record of this logger and level reaches, as logging's own propagation finds them."""
    record = logging.LogRecord(logger_name, level, __file__, 1, "probe", None, None)
    found: list[logging.Handler] = []
    logger: logging.Logger | None = logging.getLogger(logger_name)
    while logger is not None:
        found += [
            handler for handler in logger.handlers
            if level >= handler.level and handler.filter(record)
            and not type(handler).__module__.startswith("_pytest")  # pytest's capture, not the project's
        ]
        if not logger.propagate:
            break
        logger = logger.parent  # type: ignore[assignment]
    return found


@pytest.mark.parametrize(
    "logger_name", ["django.request", "django.security.csrf", "django.security.DisallowedHost", "django", "tenants"]
)
@pytest.mark.parametrize("debug", [True, False])
def test_every_django_record_reaches_exactly_one_handler(logger_name, debug, settings):
    settings.DEBUG = debug  # Django's own console handler printed only with DEBUG on

    assert len(handlers_emitting(logger_name, logging.WARNING)) == 1


def test_runserver_access_lines_keep_their_own_handler_and_format():
    (handler,) = handlers_emitting("django.server", logging.WARNING)

    assert handler.formatter is not None and handler.formatter._fmt == "[{server_time}] {message}"  # type: ignore[attr-defined]
    assert handlers_emitting("django.server", logging.INFO) == [handler]
