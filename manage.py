#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcp.settings")
    from django.core.management import execute_from_command_line

    from audit.request_id import start_command
    from mcp.env import ConfigurationError

    if len(sys.argv) > 1 and sys.argv[1] != "runserver":
        start_command(sys.argv[1])  # what the command records names it, and who ran it
    try:
        execute_from_command_line(sys.argv)
    except ConfigurationError as exc:
        # A missing or wrong setting is a message for a person, not a traceback.
        sys.stderr.write(f"Configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
