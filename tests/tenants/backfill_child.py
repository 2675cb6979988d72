"""A child process for the interruption tests: `manage.py backfill …` with the test backfills registered."""

import sys

import django

django.setup()

from django.core.management import load_command_class  # noqa: E402 - after setup

from tests.tenants.backfills_for_tests import register_all  # noqa: E402 - its models need the app registry

register_all()
# As manage.py runs it: a CommandError is one line on stderr and its exit code.
load_command_class("tenants", "backfill").run_from_argv(["manage.py", "backfill", *sys.argv[1:]])
