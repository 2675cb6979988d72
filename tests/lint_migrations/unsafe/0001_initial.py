"""The real contexts.0001_initial, so that the examples follow it."""

import importlib

Migration = importlib.import_module("contexts.migrations.0001_initial").Migration
