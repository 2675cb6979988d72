"""Reading a context's past: its versions, one version, and what changed between two."""

from __future__ import annotations

import difflib
from typing import Any

from django.db.models import QuerySet

from contexts.errors import VersionNotFound
from contexts.models import Context, ContextVersion

COMPARED_FIELDS = ("title", "tags", "metadata")


def versions_of(*, context: Context) -> QuerySet[ContextVersion]:
    """The context's versions, newest first."""
    return ContextVersion.objects.filter(context=context).order_by("-version")


def version_get(*, context: Context, version: int) -> ContextVersion:
    """Return one version of a context, or raise VersionNotFound."""
    try:
        return ContextVersion.objects.get(context=context, version=version)
    except ContextVersion.DoesNotExist:
        raise VersionNotFound(
            f"Context {context.key!r} has no version {version}; it is at version {context.version}.",
            field="version",
        ) from None


def version_diff(*, context: Context, from_version: int, to_version: int) -> dict[str, Any]:
    """Return what changed from one version to another: a unified diff of the content and the changed fields."""
    old = version_get(context=context, version=from_version)
    new = version_get(context=context, version=to_version)
    content_diff = "\n".join(difflib.unified_diff(
        old.content.splitlines(), new.content.splitlines(),
        fromfile=f"{context.key}@v{from_version}", tofile=f"{context.key}@v{to_version}", lineterm="",
    ))
    changed = {
        field: {"from": getattr(old, field), "to": getattr(new, field)}
        for field in COMPARED_FIELDS if getattr(old, field) != getattr(new, field)
    }
    return {"key": context.key, "from_version": from_version, "to_version": to_version,
            "content_diff": content_diff, "changed_fields": changed}
