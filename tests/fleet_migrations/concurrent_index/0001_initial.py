"""The real contexts.0001_initial, so that the test's 0002 follows it."""

import importlib

Migration = importlib.import_module("contexts.migrations.0001_initial").Migration
