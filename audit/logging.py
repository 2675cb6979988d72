"""Logging helpers: every record carries the current request id."""

from __future__ import annotations

import logging

from audit.request_id import current_request_id


class RequestIdFilter(logging.Filter):
    """Add request_id to every record ('-' outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True
