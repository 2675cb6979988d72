"""The embedded PostgreSQL server used when no DATABASE_URL is given.

pgserver ships the PostgreSQL binaries in its wheel, so a fresh machine needs
nothing but Python to run the project and its tests. The server listens on a
Unix socket inside its data directory only (no TCP port to collide with), and
keeps running after the process that started it exits, so that runserver's
autoreloader, management commands and test runs share one server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

DATABASE_NAME = "mcp"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started or reached."""


def embedded_database(data_dir: Path) -> dict[str, str]:
    """Start (or reuse) the embedded server under data_dir and return Django DATABASES fields."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); it falls back to /tmp.
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(data_dir, cleanup_mode=None)
        info = server.get_postmaster_info()
    except Exception as exc:  # pgserver raises assorted subprocess/OS errors
        raise EmbeddedPostgresError(
            f"could not start the embedded PostgreSQL under {data_dir}: {exc}. "
            f"See {data_dir / 'log'}, or set DATABASE_URL to use another server."
        ) from exc
    host = str(info.socket_dir) if info.socket_dir else (info.hostname or "127.0.0.1")
    port = str(info.port or 5432)
    _ensure_database(host, port)
    return {"NAME": DATABASE_NAME, "USER": "postgres", "PASSWORD": "", "HOST": host, "PORT": port}


def _ensure_database(host: str, port: str) -> None:
    import psycopg2
    import psycopg2.errors
    from psycopg2 import sql

    conn = psycopg2.connect(dbname="postgres", user="postgres", host=host, port=port)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
            if cursor.fetchone() is None:
                try:
                    cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
                except psycopg2.errors.DuplicateDatabase:
                    pass  # another process created it a moment ago
    finally:
        conn.close()


def stop_embedded_server(data_dir: Path) -> bool:
    """Stop the embedded server under data_dir, keeping its data; return whether one was running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return False
    # pg_ctl directly: pgserver stops a server only when its last registered user exits, and runserver's
    # processes (or a killed one) stay registered. As root pgserver runs the server as its own user.
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    try:
        # pgserver makes one function per PostgreSQL program when it is imported: no type checker sees them.
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=user)  # type: ignore[attr-defined]
    except subprocess.CalledProcessError as exc:
        raise EmbeddedPostgresError(
            f"could not stop the embedded PostgreSQL under {data_dir} (pg_ctl exited {exc.returncode}); "
            f"see {data_dir / 'log'}."
        ) from None
    return True


def delete_embedded_server(data_dir: Path) -> None:
    """Stop the embedded server under data_dir and delete its data."""
    if not (data_dir / "PG_VERSION").exists():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        pgserver.get_server(data_dir, cleanup_mode="delete").cleanup()


COMMANDS = {
    "stop": "stop the server, keeping its data (make stop-db)",
    "delete": "stop the server and delete its data (make clean-db)",
}


def main(argv: list[str]) -> int:
    """Run `python -m mcp.embedded_postgres stop|delete` on EMBEDDED_PG_DIR (default .data/postgres)."""
    if len(argv) != 1 or argv[0] not in COMMANDS:
        usage = "; ".join(f"{name}: {what}" for name, what in COMMANDS.items())
        sys.stderr.write(f"usage: python -m mcp.embedded_postgres {{{'|'.join(COMMANDS)}}} ({usage})\n")
        return 2
    target = Path(os.environ.get("EMBEDDED_PG_DIR", Path(__file__).resolve().parent.parent / ".data" / "postgres"))
    try:
        if argv[0] == "stop":
            stopped = stop_embedded_server(target.resolve())
            print(f"Stopped the embedded PostgreSQL under {target}." if stopped
                  else f"No embedded PostgreSQL is running under {target}.")
        else:
            delete_embedded_server(target)
            print(f"Stopped the embedded PostgreSQL and deleted {target}.")
    except EmbeddedPostgresError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
