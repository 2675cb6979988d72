"""The browser tests' server: the project's settings, with the test suite's fast password hashing.

The tests create users in-process with MD5 (tests/conftest.py); the server must check those
passwords, and hashing them properly on every sign-in would only make the run slower.
"""

from mcp.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
