"""A child process for the kill -9 test: manage.py backfill, with the test backfills registered."""

import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402 - after setup

from tests.tenants.backfills_for_tests import register_all  # noqa: E402 - its models need the app registry

register_all()
call_command("backfill", *sys.argv[1:])
