"""Audit what happens to users, and forget cached lookups of tenants, domains and keys that change.

Both whichever path the change comes by (admin, commands, services, login forms).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from audit.request_id import note as note_request
from audit.services import audit_record
from tenants import cache
from tenants.models import ApiKey, Domain, Tenant, User

# Changing these changes what a user may do.
PRIVILEGE_FIELDS = ("role", "is_active", "is_staff", "is_superuser", "tenant_id")


def _host_tenant(request: HttpRequest | None) -> Any:
    return getattr(request, "tenant", None)


@receiver(pre_save, sender=User)
def remember_privileges(sender: type[User], instance: User, **kwargs: Any) -> None:
    """Keep the stored privileges, to compare after the save."""
    if instance.pk is None:
        instance._stored_privileges = None  # for this save only, read in post_save
        return
    instance._stored_privileges = (  # type: ignore[attr-defined]
        User.objects.filter(pk=instance.pk).values(*PRIVILEGE_FIELDS).first()
    )


@receiver(post_save, sender=User)
def audit_user_saved(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    if created:
        audit_record(action="user.created", tenant=instance.tenant, target=instance,
                     details={"email": instance.email, "role": instance.role, "is_staff": instance.is_staff})
        return
    # AbstractBaseUser.set_password() keeps the new password here until this save is done.
    if getattr(instance, "_password", None) is not None:
        audit_record(action="user.password_changed", tenant=instance.tenant, target=instance,
                     details={"email": instance.email})
    stored = getattr(instance, "_stored_privileges", None)
    if stored:
        changed = {field: [stored[field], getattr(instance, field)] for field in PRIVILEGE_FIELDS
                   if stored[field] != getattr(instance, field)}
        if changed:
            audit_record(action="user.permissions_changed", tenant=instance.tenant, target=instance,
                         details={"email": instance.email, "changes": changed})


@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
def audit_user_grants(sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any) -> None:
    if action not in ("post_add", "post_remove", "post_clear") or not isinstance(instance, User):
        return
    kind = "groups" if sender is User.groups.through else "permissions"
    audit_record(action="user.permissions_changed", tenant=instance.tenant, target=instance,
                 details={"email": instance.email, kind: {action.removeprefix("post_"): sorted(pk_set or [])}})


@receiver(user_logged_in)
def audit_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    note_request(user_id=user.pk)
    audit_record(action="auth.login_succeeded", tenant=user.tenant, actor=user, target=user)


@receiver(user_logged_out)
def audit_logout(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="auth.logout", tenant=user.tenant, actor=user, target=user)


@receiver(user_login_failed)
def audit_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Django already hides the password in credentials; only the name tried is kept.
    tried = credentials.get("username") or credentials.get("email") or ""
    audit_record(action="auth.login_failed", tenant=_host_tenant(request), outcome="denied", independent=True,
                 details={"email": str(tried)[:254]})


# --- The lookup cache (tenants.cache): a suspension, a removed domain or a revoked key take effect at once.


@receiver(post_save, sender=Tenant)
@receiver(post_delete, sender=Tenant)
def forget_cached_tenant(sender: type[Tenant], instance: Tenant, **kwargs: Any) -> None:
    cache.forget_tenant(instance)


@receiver(pre_save, sender=Domain)
def remember_host_name(sender: type[Domain], instance: Domain, **kwargs: Any) -> None:
    """Keep the stored host name, which a renamed domain stops serving."""
    stored = Domain.objects.filter(pk=instance.pk).values_list("domain", flat=True).first() if instance.pk else None
    instance._stored_domain = stored


@receiver(post_save, sender=Domain)
@receiver(post_delete, sender=Domain)
def forget_cached_host(sender: type[Domain], instance: Domain, **kwargs: Any) -> None:
    cache.forget_hosts({instance.domain, getattr(instance, "_stored_domain", None) or instance.domain})


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
def forget_cached_api_key(sender: type[ApiKey], instance: ApiKey, created: bool = False, **kwargs: Any) -> None:
    if not created:  # a new key was never cached: its id is new
        cache.forget_api_key(instance.key_id)
