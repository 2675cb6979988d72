"""The tenant lifecycle: every write the platform knows about tenants."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.services import audit_record
from tenants.cache import forget_hosts
from tenants.citus import execute_each
from tenants.engine.applied_migrations import drop_statements
from tenants.engine.graph import MigrationGraph
from tenants.engine.lock import hold_shared_migration_lock
from tenants.engine.migrator import Migrator
from tenants.engine.pool import pool_claim
from tenants.engine.schema_state import SchemaState
from tenants.engine.template import current_script, replay_script
from tenants.errors import DomainTaken, TemplateUnavailable, TenantError, TenantExists, TenantNotFound
from tenants.models import Domain, Tenant, User
from tenants.naming import PUBLIC_SCHEMA, quote_schema, schema_name_for, validate_domain


def default_domain_for(slug: str) -> str:
    """Return the host a tenant gets when none is given: <slug>.<BASE_DOMAIN>."""
    return f"{slug}.{settings.BASE_DOMAIN}"


def tenant_get(*, slug: str) -> Tenant:
    """Return the tenant with this slug, or raise TenantNotFound."""
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        raise TenantNotFound(f"No tenant has the slug {slug!r}.") from None


@transaction.atomic
def ensure_public_tenant() -> Tenant:
    """Make sure the public tenant and its domain (BASE_DOMAIN) exist; return it."""
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=PUBLIC_SCHEMA, defaults={"slug": PUBLIC_SCHEMA, "name": "Platform"}
    )
    domain = validate_domain(settings.BASE_DOMAIN)
    existing = Domain.objects.filter(domain=domain).select_related("tenant").first()
    if existing is None:
        Domain.objects.create(tenant=tenant, domain=domain, is_primary=True)
    elif existing.tenant_id != tenant.pk:
        raise DomainTaken(
            f"BASE_DOMAIN {domain!r} is already the domain of tenant {existing.tenant.slug!r}; "
            "the public host needs it."
        )
    return tenant


def tenant_create(
    *,
    slug: str,
    name: str,
    domain: str | None = None,
    plan: str = Tenant.Plan.FREE,
    billing_email: str = "",
    admin_email: str | None = None,
    actor: User | None = None,
    actor_label: str = "",
) -> tuple[Tenant, str | None]:
    """Create a tenant, its domain and its migrated schema, all or nothing.

    Returns the tenant and, when admin_email is given, the temporary password
    of the owner account created for it. Creations run side by side, but never
    while a migration run changes the schemas (they share the migration lock).
    """
    if not connection.in_atomic_block:
        # Built outside the creation's transaction, where a non-atomic migration (CREATE INDEX
        # CONCURRENTLY) can run; inside it, creation would have to migrate the schema instead.
        try:
            current_script()
        except TemplateUnavailable:
            pass
    try:
        with transaction.atomic():
            return _tenant_create(
                slug=slug, name=name, domain=domain, plan=plan, billing_email=billing_email,
                admin_email=admin_email, actor=actor, actor_label=actor_label,
            )
    except TenantError as exc:
        tenant_creation_refused(slug=slug, domain=domain, reason=str(exc), actor=actor, actor_label=actor_label)
        raise


def tenant_creation_refused(
    *, slug: str, domain: str | None, reason: str, actor: User | None = None, actor_label: str = ""
) -> None:
    """Record a refused tenant creation; in a transaction of its own, since the attempt's is rolled back."""
    audit_record(
        action="tenant.created", outcome="failure", actor=actor, actor_label=actor_label, independent=True,
        details={"slug": slug, "domain": domain, "error": reason},
    )


def _tenant_create(
    *,
    slug: str,
    name: str,
    domain: str | None,
    plan: str,
    billing_email: str,
    admin_email: str | None,
    actor: User | None,
    actor_label: str,
) -> tuple[Tenant, str | None]:
    schema_name = schema_name_for(slug)  # validates the slug; raises InvalidSlug
    domain = validate_domain(domain if domain is not None else default_domain_for(slug))
    if not name or not name.strip():
        raise TenantError("The tenant name is empty.")
    if plan not in Tenant.Plan.values:
        raise TenantError(f"Unknown plan {plan!r}; choose one of {', '.join(Tenant.Plan.values)}.")
    for label, email in (("billing email", billing_email), ("admin email", admin_email)):
        if email:
            _validate_email(email, label)
    # The lock, and then whether the slug, the domain and the schema name are free, in one round trip.
    slug_taken, domain_in_use, schema_taken = hold_shared_migration_lock(  # type: ignore[misc]
        wait_seconds=settings.MIGRATION_LOCK_WAIT,
        then=(
            "SELECT EXISTS (SELECT 1 FROM tenants WHERE slug = %s), EXISTS (SELECT 1 FROM domains WHERE domain = %s), "
            "EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)",
            [slug, domain, schema_name],
        ),
    )
    if slug_taken:
        raise TenantExists(f"A tenant with the slug {slug!r} already exists.")
    if domain_in_use:
        raise domain_taken(domain)
    if schema_taken:
        raise TenantExists(f"A schema named {schema_name!r} already exists; it belongs to no tenant row.")

    try:
        # bulk_create skips TenantMixin.save(), whose case-insensitive uniqueness query repeats the check above
        # (schema names are lowercase by construction; the unique constraints have the last word).
        (tenant,) = Tenant.objects.bulk_create(
            [Tenant(slug=slug, name=name.strip(), schema_name=schema_name, plan=plan, billing_email=billing_email)]
        )
        # bulk_create skips DomainMixin.save(), whose hunt for other primary domains a new tenant needs not.
        Domain.objects.bulk_create([Domain(tenant=tenant, domain=domain, is_primary=True)])
    except IntegrityError as exc:
        # A concurrent creation won the race; tenant_create's transaction rolls back on the way out.
        raise _conflict_error(exc, slug=slug, domain=domain) from None

    build_tenant_schema(schema_name)

    password = None
    if admin_email:
        password = secrets.token_urlsafe(12)
        User.objects.create_user(admin_email, password, tenant=tenant, role=User.Role.OWNER)

    audit_record(
        action="tenant.created",
        tenant=tenant,
        actor=actor,
        actor_label=actor_label,
        target=tenant,
        details={"schema_name": schema_name, "domain": domain, "plan": plan},
    )
    return tenant, password


def build_tenant_schema(schema_name: str) -> None:
    """Create a fully migrated schema: claim one from the pool, replay the template, or migrate it."""
    if pool_claim(schema_name=schema_name):
        return
    try:
        script = current_script()
    except TemplateUnavailable:
        script = None
    if script is not None:
        replay_script(script, schema_name)
        return
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quote_schema(schema_name)}")
    migrator = Migrator(graph=MigrationGraph())
    state = SchemaState(schema_name, has_table=False)
    outcome = migrator.migrate_one(schema_name, state, migrator.plan_for(state))
    if outcome.failed:
        raise TenantError(f"Migrating the new schema {schema_name} failed: {outcome.error}")


def _validate_email(email: str, label: str) -> None:
    try:
        validate_email(email)
    except ValidationError:
        raise TenantError(f"The {label} {email!r} is not a valid email address.") from None


def _conflict_error(exc: IntegrityError, *, slug: str, domain: str) -> TenantError:
    constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""
    if constraint.startswith("domains_"):
        return domain_taken(domain)
    if constraint.startswith(("tenants_slug", "tenants_schema_name")):
        return TenantExists(f"A tenant with the slug {slug!r} already exists.")
    raise exc


@transaction.atomic
def tenant_suspend(*, tenant: Tenant, actor: User | None = None, actor_label: str = "", reason: str = "") -> Tenant:
    """Suspend a tenant: its host answers 403 until it is activated again."""
    tenant = _lock_tenant(tenant)
    if tenant.is_public:
        raise TenantError("The public tenant cannot be suspended.")
    if tenant.is_suspended:
        return tenant
    tenant.status = Tenant.Status.SUSPENDED
    tenant.suspended_at = timezone.now()
    tenant.save(update_fields=["status", "suspended_at", "updated_at"])
    audit_record(
        action="tenant.suspended", tenant=tenant, actor=actor, actor_label=actor_label, target=tenant,
        details={"reason": reason} if reason else {},
    )
    return tenant


@transaction.atomic
def tenant_activate(*, tenant: Tenant, actor: User | None = None, actor_label: str = "") -> Tenant:
    """Activate a suspended tenant again."""
    tenant = _lock_tenant(tenant)
    if not tenant.is_suspended:
        return tenant
    tenant.status = Tenant.Status.ACTIVE
    tenant.suspended_at = None
    tenant.save(update_fields=["status", "suspended_at", "updated_at"])
    audit_record(action="tenant.activated", tenant=tenant, actor=actor, actor_label=actor_label, target=tenant)
    return tenant


# The fields an update may change; the slug and schema follow the tenant for life, the status has its services.
UPDATABLE_FIELDS = (
    "name", "plan", "subscription_status", "billing_email", "billing_customer_id", "trial_ends_at", "config",
)


@transaction.atomic
def tenant_update(*, tenant: Tenant, changes: dict[str, Any], actor: User | None = None, actor_label: str = "") -> Tenant:
    """Change a tenant's name, billing fields or configuration, and record what changed."""
    refused = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if refused:
        raise TenantError(f"These tenant fields cannot be changed here: {', '.join(refused)}.")
    locked = _lock_tenant(tenant)
    changed = {field: value for field, value in changes.items() if getattr(locked, field) != value}
    if not changed:
        return locked
    for field, value in changed.items():
        setattr(locked, field, value)
    locked.full_clean(exclude=["schema_name", "slug"])
    locked.save(update_fields=[*changed, "updated_at"])
    audit_record(
        action="tenant.updated", tenant=locked, actor=actor, actor_label=actor_label, target=locked,
        details={"fields": sorted(changed)},
    )
    return locked


def tenant_delete(*, tenant: Tenant, actor: User | None = None, actor_label: str = "") -> None:
    """Delete a tenant: its schema and all its data, its domains and its users. There is no undo."""
    if tenant.is_public:
        raise TenantError("The public tenant cannot be deleted.")
    with transaction.atomic():
        hold_shared_migration_lock(wait_seconds=settings.MIGRATION_LOCK_WAIT)
        locked = _lock_tenant(tenant)
        users = list(User.objects.filter(tenant=locked).values_list("email", flat=True))
        with connection.cursor() as cursor:
            execute_each(cursor, drop_statements(locked.schema_name))
        User.objects.filter(tenant=locked).delete()
        audit_record(
            action="tenant.deleted", tenant=locked, actor=actor, actor_label=actor_label, target=locked,
            details={"schema_name": locked.schema_name, "users_deleted": len(users)},
        )
        Tenant.objects.filter(pk=locked.pk).delete()  # domains go with it (CASCADE)


@transaction.atomic
def domain_add(
    *, tenant: Tenant, domain: str, is_primary: bool = False, actor: User | None = None, actor_label: str = ""
) -> Domain:
    """Give a tenant another host name (validated, unique); is_primary makes it the one URLs are built from."""
    domain = validate_domain(domain)
    locked = _lock_tenant(tenant)  # one domain change of a tenant at a time: the primary flag stays single
    if Domain.objects.filter(domain=domain).exists():
        raise domain_taken(domain)
    has_primary = Domain.objects.filter(tenant=locked, is_primary=True).exists()
    if is_primary:
        Domain.objects.filter(tenant=locked, is_primary=True).update(is_primary=False)
    try:
        with transaction.atomic():
            # bulk_create: DomainMixin.save() would redo the primary bookkeeping done above.
            (added,) = Domain.objects.bulk_create(
                [Domain(tenant=locked, domain=domain, is_primary=is_primary or not has_primary)]
            )
    except IntegrityError:
        raise domain_taken(domain) from None
    audit_record(
        action="domain.added", tenant=locked, actor=actor, actor_label=actor_label, target=added,
        details={"domain": domain, "is_primary": added.is_primary},
    )
    return added


@transaction.atomic
def domain_change(
    *, domain: Domain, new_domain: str | None = None, is_primary: bool | None = None,
    actor: User | None = None, actor_label: str = "",
) -> Domain:
    """Rename a tenant's host name or make it the primary one; a primary domain stays primary until another is."""
    locked_tenant = _lock_tenant(domain.tenant)
    current = Domain.objects.select_for_update().get(pk=domain.pk, tenant=locked_tenant)
    changes: dict[str, Any] = {}
    if new_domain is not None and validate_domain(new_domain) != current.domain:
        changes["domain"] = validate_domain(new_domain)
        if Domain.objects.filter(domain=changes["domain"]).exclude(pk=current.pk).exists():
            raise domain_taken(changes["domain"])
    if is_primary is not None and is_primary != current.is_primary:
        if not is_primary:
            raise TenantError(
                f"{current.domain!r} is the primary domain of {locked_tenant.slug!r}: make another domain primary instead."
            )
        Domain.objects.filter(tenant=locked_tenant, is_primary=True).update(is_primary=False)
        changes["is_primary"] = True
    if not changes:
        return current
    before = current.domain
    for field, value in changes.items():
        setattr(current, field, value)
    try:
        with transaction.atomic():
            Domain.objects.filter(pk=current.pk).update(**changes)
    except IntegrityError:
        raise domain_taken(current.domain) from None
    forget_hosts([before, current.domain])  # an update sends no signal: the old name stops routing here at once
    audit_record(
        action="domain.changed", tenant=locked_tenant, actor=actor, actor_label=actor_label, target=current,
        details={"domain": current.domain, "previous_domain": before, "fields": sorted(changes)},
    )
    return current


@transaction.atomic
def domain_remove(*, domain: Domain, actor: User | None = None, actor_label: str = "") -> None:
    """Stop serving a tenant at one of its host names; the primary one stays until another is made primary."""
    locked_tenant = _lock_tenant(domain.tenant)
    current = Domain.objects.select_for_update().get(pk=domain.pk, tenant=locked_tenant)
    if current.is_primary:
        raise TenantError(
            f"{current.domain!r} is the primary domain of {locked_tenant.slug!r}: make another domain primary first."
        )
    current.delete()
    audit_record(
        action="domain.removed", tenant=locked_tenant, actor=actor, actor_label=actor_label,
        details={"domain": current.domain},
    )


def domain_get(*, domain: str) -> Domain:
    """Return the Domain row for a host name (normalised first), or raise TenantNotFound."""
    try:
        return Domain.objects.select_related("tenant").get(domain=validate_domain(domain))
    except Domain.DoesNotExist:
        raise TenantNotFound(f"No tenant is served at {domain!r}.") from None


def domain_taken(domain: str) -> DomainTaken:
    """The refusal for a host name another tenant (or the platform) already serves."""
    return DomainTaken(f"The domain {domain!r} is already served by another tenant.")


def _lock_tenant(tenant: Tenant) -> Tenant:
    return Tenant.objects.select_for_update().get(pk=tenant.pk)
