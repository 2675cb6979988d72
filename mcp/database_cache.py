"""Django's database cache, with the request counters of tenants.rate_limits added to in one statement.

settings.CACHES["default"] names it when REDIS_URL is not set; it behaves as
Django's own (django.core.cache.backends.db.DatabaseCache) in every other
respect. Django's incr reads a counter and writes it back (two workers may both
write n + 1: a request not counted), and every write first counts the table's
rows for culling: some ten statements and two commits for a request's two
budgets. count_requests adds to every counter of a request in one
INSERT … ON CONFLICT DO UPDATE, which PostgreSQL applies row by row under the
row's lock, so concurrent requests are each counted once; incr and decr do the
same for one counter.

For that, values are pickled with protocol 0, in which an integer is the text
`I<digits>\\n.`, which SQL can read and write in place; get() reads it as it
reads any pickle. A counter's commit does not wait for the disk (set_config of
synchronous_commit for that statement's own transaction, as a read's count in
contexts.services): budgets are statistics, and a crash of the server loses at
most its last fraction of a second of counts.
"""

from __future__ import annotations

import base64
import pickle
from datetime import UTC, datetime
from typing import Any

from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, router
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from tenants.django_internals import cursor_without_search_path

# The integer a stored value holds, when it is a protocol-0 pickle of one (base64, decoded to text by the escape
# format, which leaves the newline as it is), else NULL; and the stored form of an integer.
_COUNT_IN = r"substring(encode(decode({value}, 'base64'), 'escape') from '^I(-?[0-9]+)\n\.$')::bigint"
_COUNT_OUT = "encode(convert_to('I' || ({count})::text || chr(10) || '.', 'UTF8'), 'base64')"
_MAY_WAIT = "set_config('synchronous_commit', 'off', true) IS NOT NULL"


class DatabaseCache(DjangoDatabaseCache):
    """Django's database cache, counting requests in one atomic statement."""

    pickle_protocol = 0

    def _stored(self, value: Any) -> str:
        return base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")

    def _cursor_and_table(self) -> tuple[Any, str]:
        # The table named in public, where it lives (tenants' migration 0006), on Django's cursor without the
        # SET search_path django-tenants sends before each statement: a round trip fewer, as in contexts.services.
        connection = connections[router.db_for_write(self.cache_model_class)]
        # _table and _cull below: Django's DatabaseCache's own (private, not in django-stubs), covered by
        # tests/test_database_cache.py.
        table = f"{connection.ops.quote_name(get_public_schema_name())}.{connection.ops.quote_name(self._table)}"  # type: ignore[attr-defined]
        return cursor_without_search_path(connection), table

    def _may_wait(self) -> str:
        connection = connections[router.db_for_write(self.cache_model_class)]
        return "" if connection.in_atomic_block else _MAY_WAIT

    def count_requests(self, keys: list[str], timeout: int, version: int | None = None) -> list[int]:
        """Add one to each counter (a new one expires after timeout seconds) in one statement; return the counts."""
        names = [self.make_and_validate_key(key, version=version) for key in keys]
        now = timezone.now()
        seconds = self.get_backend_timeout(timeout)
        expires = (datetime.max.replace(tzinfo=UTC) if seconds is None  # never, as Django's own backend writes it
                   else datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=0))
        old, may_wait = _COUNT_IN.format(value="entry.value"), self._may_wait()
        restart = f"entry.expires < %(now)s OR {old} IS NULL"  # expired (get() would not see it), or not a count
        cursor, table = self._cursor_and_table()
        with cursor:
            cursor.execute(
                f"INSERT INTO {table} AS entry (cache_key, value, expires) "
                f"SELECT name, %(one)s, %(expires)s FROM unnest(%(names)s::text[]) AS name"
                f"{' WHERE ' + may_wait if may_wait else ''} "
                f"ON CONFLICT (cache_key) DO UPDATE SET "
                f"value = CASE WHEN {restart} THEN excluded.value ELSE {_COUNT_OUT.format(count=old + ' + 1')} END, "
                f"expires = CASE WHEN {restart} THEN excluded.expires ELSE entry.expires END "
                f"RETURNING cache_key, {_COUNT_IN.format(value='entry.value')}, xmax = 0",
                {"one": self._stored(1), "expires": expires, "names": names, "now": now},
            )
            counted = {name: (count, inserted) for name, count, inserted in cursor.fetchall()}
            if any(inserted for _, inserted in counted.values()):
                # A new window's counter: cull as Django's set() does (it counts the rows on every write; a
                # counter is written by a request, so here only when one is added, once a minute per budget).
                cursor.execute(f"SELECT COUNT(*) FROM {table}")
                rows = cursor.fetchone()[0]
                if rows > self._max_entries:
                    with connections[router.db_for_write(self.cache_model_class)].cursor() as culling:
                        self._cull(router.db_for_write(self.cache_model_class), culling, now, rows)  # type: ignore[attr-defined]
        return [int(counted[name][0]) for name in names]

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        """Add delta to a counter in one statement; anything else as Django does (ValueError if it is missing)."""
        name = self.make_and_validate_key(key, version=version)
        may_wait = self._may_wait()
        old = _COUNT_IN.format(value="entry.value")
        cursor, table = self._cursor_and_table()
        with cursor:
            cursor.execute(
                f"UPDATE {table} AS entry SET value = {_COUNT_OUT.format(count=old + ' + %(delta)s')} "
                f"WHERE cache_key = %(name)s AND expires >= %(now)s AND {old} IS NOT NULL"
                f"{' AND ' + may_wait if may_wait else ''} "
                f"RETURNING {_COUNT_IN.format(value='entry.value')}",
                {"delta": int(delta), "name": name, "now": timezone.now()},
            )
            row = cursor.fetchone()
        if row is None:  # missing, expired, or not a count
            return super().incr(key, delta, version)
        return int(row[0])
