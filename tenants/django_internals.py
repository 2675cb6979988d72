"""The private parts of Django this project relies on, each in one place with a test that names it when an upgrade
moves it (tests/test_django_internals.py). Everything else uses public APIs."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import ModelAdmin
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse


def cursor_without_search_path(connection: Any) -> Any:
    """Django's own cursor for this connection (health check, error wrapping, the query log), without the
    SET search_path that django-tenants' backend sends before each cursor: for statements that name their schema.

    BaseDatabaseWrapper._cursor is what django-tenants' DatabaseWrapper._cursor overrides to set the path; calling
    the base class's directly skips only that.
    """
    return BaseDatabaseWrapper._cursor(connection)  # type: ignore[attr-defined]  # private: not in django-stubs


def missing_object_redirect(model_admin: ModelAdmin[Any], request: HttpRequest, object_id: str) -> HttpResponse:
    """What the admin's own views answer for an id that names nothing: a message and back to the list.

    ModelAdmin._get_obj_does_not_exist_redirect, for a view of our own (the audit history) to behave as Django's.
    """
    return model_admin._get_obj_does_not_exist_redirect(  # type: ignore[attr-defined]  # private
        request, model_admin.opts, object_id)
