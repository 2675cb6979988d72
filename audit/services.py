"""Recording audit events: the one function that writes audit_logs."""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING, Any

from audit.models import AuditLog
from audit.request_id import current_request_id

if TYPE_CHECKING:
    from django.db.models import Model
    from django.http import HttpRequest

    from tenants.models import Tenant, User


def command_actor_label(command: str) -> str:
    """Name the OS user running a management command, e.g. 'create_tenant by deploy'."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        os_user = str(os.getuid())
    return f"{command} by {os_user}"


def audit_record(
    *,
    action: str,
    tenant: Tenant | None = None,
    actor: User | None = None,
    actor_label: str = "",
    target: Model | None = None,
    outcome: str = AuditLog.Outcome.SUCCESS,
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditLog:
    """Write one audit entry in the caller's transaction, so a rolled-back action leaves none.

    The actor is a user when one is given, else a command when actor_label
    names one (see command_actor_label), else the system.
    """
    if actor is not None and actor.is_authenticated:
        actor_type, actor_id, label = AuditLog.ActorType.USER, actor.pk, actor.email
    elif actor_label:
        actor_type, actor_id, label = AuditLog.ActorType.COMMAND, None, actor_label
    else:
        actor_type, actor_id, label = AuditLog.ActorType.SYSTEM, None, ""
    meta = request.META if request is not None else {}
    return AuditLog.objects.create(
        action=action,
        tenant_id=tenant.pk if tenant is not None else None,
        tenant_slug=tenant.slug if tenant is not None else "",
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=label,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        outcome=outcome,
        request_id=current_request_id(),
        ip_address=meta.get("REMOTE_ADDR") or None,
        user_agent=meta.get("HTTP_USER_AGENT", "")[:1000],
        details=details or {},
    )
