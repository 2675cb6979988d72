"""Logging: every record carries the request id, tenant and user; LOG_FORMAT=json gives one JSON object a line."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

from audit.request_id import current_context


class RequestContextFilter(logging.Filter):
    """Add request_id, tenant and user to every record ('-' outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        record.request_id = context.request_id or "-"
        record.tenant = context.tenant_slug or "-"
        record.user = context.user_id if context.user_id is not None else "-"
        return True


class JsonLogFormatter(JsonFormatter):
    """python-json-logger's formatter, with the fields every line carries."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant)s %(user)s")
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
