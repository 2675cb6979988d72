"""A child process for the interruption tests: `manage.py backfill …` with the test backfills registered."""

import signal
import sys

import django

# Ctrl-C as at a terminal: a process started in the background by a non-interactive shell (a CI job) inherits SIGINT
# ignored, and Python then never raises KeyboardInterrupt, so the interruption test would see the run finish.
signal.signal(signal.SIGINT, signal.default_int_handler)

django.setup()

from django.core.management import load_command_class  # noqa: E402 - after setup

from tests.tenants.backfills_for_tests import register_all  # noqa: E402 - its models need the app registry

register_all()
# As manage.py runs it: a CommandError is one line on stderr and its exit code.
load_command_class("tenants", "backfill").run_from_argv(["manage.py", "backfill", *sys.argv[1:]])
