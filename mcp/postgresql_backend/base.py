"""django-tenants' PostgreSQL backend, whose connection health check runs at most once a second per connection.

Django checks a persistent connection (CONN_HEALTH_CHECKS, mcp.env) with a
`SELECT 1` before the first query of every request, so that a connection the
server dropped while it sat idle (a restart, an idle timeout in a proxy) is
replaced before it fails a request. On a busy worker that is a round trip per
request, and it cost a read by key about a fifth of its CPU (bench/api.py). A
connection that was opened or answered the check less than
HEALTH_CHECK_INTERVAL ago is taken as sound instead: an idle connection is
still checked before it is used. The trade: a connection that dies within the
second after its check (the server restarts under load) fails the one request
that uses it, which Django answers with a 500 and after which it closes the
connection (errors_occurred), so that the worker's next request reconnects,
as it would have without any health check.
"""

from __future__ import annotations

import time
from typing import Any

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper

HEALTH_CHECK_INTERVAL = 1.0  # seconds


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.health_checked_at = float("-inf")  # time.monotonic() of the last connect or passed check

    def connect(self) -> None:
        super().connect()
        self.health_checked_at = time.monotonic()

    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if time.monotonic() - self.health_checked_at < HEALTH_CHECK_INTERVAL:
            self.health_check_done = True  # it answered within the interval: no SELECT 1 for this request
            return
        super().close_if_health_check_failed()
        if self.connection is not None:  # it passed (a connection that failed was closed; connect() stamps anew)
            self.health_checked_at = time.monotonic()
