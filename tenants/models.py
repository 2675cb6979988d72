"""The platform's tables in the public schema: tenants, their domains and users."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Replace
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

from tenants.naming import MAX_SLUG_LENGTH, PUBLIC_SCHEMA, SCHEMA_PREFIX, SLUG_REGEX

# Choice lists live at module level so that each model's check constraints, in its Meta,
# are built from the same definition as its fields (a class body's names are not visible in Meta).


class TenantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class TenantPlan(models.TextChoices):
    FREE = "free", "Free"
    TEAM = "team", "Team"
    ENTERPRISE = "enterprise", "Enterprise"


class SubscriptionStatus(models.TextChoices):
    NONE = "none", "None"
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELED = "canceled", "Canceled"


class Tenant(TenantMixin):
    """A customer: one row here, one PostgreSQL schema of its own."""

    Status = TenantStatus
    Plan = TenantPlan
    SubscriptionStatus = SubscriptionStatus

    slug = models.CharField(max_length=MAX_SLUG_LENGTH, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    subscription_status = models.CharField(
        max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.NONE
    )
    billing_email = models.EmailField(blank=True)
    billing_customer_id = models.CharField(max_length=100, blank=True, help_text="The billing provider's customer id.")
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True, help_text="Per-tenant configuration (a JSON object).")
    suspended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # The lifecycle services create and drop schemas themselves, inside their
    # own transaction, rather than as a side effect of save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        db_table = "tenants"
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(name="tenants_status_valid", condition=Q(status__in=TenantStatus.values)),
            models.CheckConstraint(name="tenants_plan_valid", condition=Q(plan__in=TenantPlan.values)),
            models.CheckConstraint(
                name="tenants_subscription_status_valid", condition=Q(subscription_status__in=SubscriptionStatus.values)
            ),
            # The schema name is derived from the slug, and the database holds it to that.
            models.CheckConstraint(
                name="tenants_schema_matches_slug",
                condition=Q(schema_name=PUBLIC_SCHEMA, slug=PUBLIC_SCHEMA)
                | (
                    Q(slug__regex=f"^{SLUG_REGEX}$")
                    & Q(schema_name=Concat(Value(SCHEMA_PREFIX), Replace(F("slug"), Value("-"), Value("_"))))
                ),
            ),
            models.CheckConstraint(
                name="tenants_suspended_has_time",
                condition=Q(status="active") | Q(suspended_at__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["billing_customer_id"],
                condition=~Q(billing_customer_id=""),
                name="tenants_billing_customer_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        super().clean()
        # The summaries part of config has its rules where summaries are made (imported here, when used:
        # contexts is a tenant app that imports this module).
        from contexts.summarizer.config import validate_tenant_config

        validate_tenant_config(self.config)

    @property
    def is_public(self) -> bool:
        return self.schema_name == PUBLIC_SCHEMA

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED


class Domain(DomainMixin):
    """A host name served by one tenant."""

    class Meta:
        db_table = "domains"
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_primary=True), name="domains_one_primary_per_tenant"
            ),
            models.CheckConstraint(name="domains_lowercase", condition=Q(domain=models.functions.Lower("domain"))),
        ]


class UserManager(BaseUserManager["User"]):
    """Create users by email; platform users (no tenant) are the natural-key users."""

    use_in_migrations = True

    def get_by_natural_key(self, email: str | None) -> User:
        # Emails are unique per tenant; outside a request (createsuperuser,
        # changepassword) the natural key names a platform user.
        return self.get(email=self.normalize_email(email).lower(), tenant__isnull=True)

    def _create_user(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True, tenant=None, role="")
        return self._create_user(email, password, **fields)


class UserRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: a member of one tenant, or platform staff (no tenant)."""

    Role = UserRole

    # Roles that may use the tenant's admin.
    ADMIN_ROLES: ClassVar[frozenset[str]] = frozenset({Role.OWNER, Role.ADMIN})

    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200, blank=True)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="users",
        help_text="The tenant this user belongs to; empty for platform staff.",
    )
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Platform staff may sign in to the platform admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        db_table = "users"
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"], nulls_distinct=False, name="users_email_unique_per_tenant"
            ),
            models.CheckConstraint(name="users_email_lowercase", condition=Q(email=models.functions.Lower("email"))),
            # Tenant members have a role; platform staff have none.
            models.CheckConstraint(
                name="users_role_matches_tenant",
                condition=Q(tenant__isnull=True, role="")
                | Q(tenant__isnull=False, role__in=UserRole.values),
            ),
            # Only platform staff can be superusers or staff.
            models.CheckConstraint(
                name="users_staff_are_platform_users",
                condition=Q(tenant__isnull=True) | Q(is_superuser=False, is_staff=False),
            ),
        ]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()


class UserIdentity(models.Model):
    """A single sign-on identity (provider, subject) linked to a user."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="identities")
    provider = models.CharField(max_length=64, help_text="The identity provider, e.g. google or okta.")
    subject = models.CharField(max_length=255, help_text="The provider's stable id for the user (the sub claim).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "user_identities"
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="user_identities_provider_subject_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject}"


class MigrationRunOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"


class MigrationRun(models.Model):
    """One run of the migration engine: who, where, when, what and how it ended."""

    Outcome = MigrationRunOutcome

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    command = models.CharField(max_length=500, help_text="What was asked, e.g. migrate_schemas --tenant.")
    os_user = models.CharField(max_length=100, blank=True)
    actor_label = models.CharField(max_length=254, blank=True, help_text="The Django user, when known.")
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    target = models.CharField(max_length=255, blank=True, help_text="app and migration, or empty for the latest.")
    schemas_total = models.PositiveIntegerField(default=0)
    schemas_migrated = models.PositiveIntegerField(default=0)
    schemas_current = models.PositiveIntegerField(default=0)
    schemas_failed = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "migration_runs"
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["-started_at"], name="migration_runs_started_idx")]
        constraints = [
            models.CheckConstraint(
                name="migration_runs_outcome_valid",
                condition=Q(outcome__in=MigrationRunOutcome.values),
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.outcome}"

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


class MigrationRunSchemaOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"


class MigrationRunSchema(models.Model):
    """What one run did to one schema."""

    Outcome = MigrationRunSchemaOutcome

    run = models.ForeignKey(MigrationRun, on_delete=models.CASCADE, related_name="schemas")
    schema_name = models.CharField(max_length=63)
    migrations = models.JSONField(default=list, help_text='["app.name", …] applied (or unapplied) in order.')
    backwards = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "migration_run_schemas"
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["schema_name", "-finished_at"], name="run_schemas_schema_idx")]
        constraints = [
            models.CheckConstraint(
                name="migration_run_schemas_outcome_valid", condition=Q(outcome__in=MigrationRunSchemaOutcome.values)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schema_name} {self.outcome}"


class TenantSchemaScript(models.Model):
    """The SQL that builds a fully migrated tenant schema, for one state of the migration graph.

    Built by running the tenant apps' migrations on a scratch schema and keeping
    what they executed; replayed in one round trip to create a tenant.
    """

    fingerprint = models.CharField(max_length=64, unique=True, help_text="sha256 of the tenant migrations on disk.")
    sql = models.TextField()
    migrations = models.JSONField(help_text='[["app", "name"], …] the script records as applied, in order.')
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "tenant_schema_scripts"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.fingerprint[:12]


class PooledSchema(models.Model):
    """A migrated tenant schema that belongs to no tenant yet; creation claims one and renames it."""

    schema_name = models.CharField(max_length=63, unique=True)
    fingerprint = models.CharField(max_length=64, help_text="The migrations it was built or migrated to.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "schema_pool"
        ordering = ["id"]
        indexes = [models.Index(fields=["fingerprint", "id"], name="schema_pool_fingerprint_idx")]
        constraints = [
            models.CheckConstraint(name="schema_pool_name_prefix", condition=Q(schema_name__startswith="pool_")),
        ]

    def __str__(self) -> str:
        return self.schema_name


class ApiKeyScope(models.TextChoices):
    CONTEXTS_READ = "contexts:read", "Read contexts"
    CONTEXTS_WRITE = "contexts:write", "Write contexts"
    SUMMARIES_WRITE = "summaries:write", "Request summaries"


class ApiKey(models.Model):
    """A credential for one tenant's REST API and MCP endpoint: stored as a digest, shown once.

    The key reads mcpk_<key_id>_<secret>: key_id is public (it names the key in
    lists, logs and audit entries), the secret is known only to its holder.
    """

    Scope = ApiKeyScope

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. ci or claude-desktop.")
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False, help_text="sha256 of the whole key, hex.")
    scopes = ArrayField(models.CharField(max_length=32, choices=ApiKeyScope.choices), default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by_label = models.CharField(max_length=254, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "api_keys"
        ordering = ["tenant", "name", "id"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(name="api_keys_scopes_known", condition=Q(scopes__contained_by=ApiKeyScope.values)),
            models.CheckConstraint(name="api_keys_name_not_blank", condition=~Q(name="")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def display_prefix(self) -> str:
        """What of the key may be shown: its public part."""
        return f"mcpk_{self.key_id}_…"


class SummaryQueueState(models.TextChoices):
    QUEUED = "queued", "Queued"
    FAILED = "failed", "Failed"


class SummaryQueueEntry(models.Model):
    """A summary some tenant awaits (or gave up on): the fleet's work, found without visiting any schema.

    Written in the same transaction as the tenant's summary row (contexts.summaries), claimed by the
    worker with FOR UPDATE SKIP LOCKED for a limited time (contexts.summarizer.queue). summary_id and
    context_id name rows in the tenant's schema: no foreign key leaves a tenant.
    """

    State = SummaryQueueState

    # No index of its own: the unique (tenant, summary_id) serves lookups by tenant.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="summary_queue", db_index=False)
    summary_id = models.BigIntegerField(help_text="The summary's id in the tenant's schema.")
    context_id = models.BigIntegerField(help_text="Its context's id in the tenant's schema.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    due_at = models.DateTimeField(null=True, blank=True, help_text="When a worker may take it; empty once failed.")
    claimed_by = models.CharField(max_length=200, blank=True, help_text="The worker that took it last.")
    claim_token = models.UUIDField(null=True, blank=True, help_text="Which claim may write the result.")
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="When the claim lapses unless renewed.")
    claims = models.IntegerField(default=0, help_text="How many times a worker took it.")
    lost_claims = models.IntegerField(default=0, help_text="Claims that lapsed: their worker stopped mid-summary.")
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "summary_queue"
        ordering = ["due_at", "id"]
        verbose_name = "summary queue entry"
        verbose_name_plural = "summary queue"
        indexes = [
            # The claim: the earliest due entries first.
            models.Index(fields=["due_at", "id"], name="summary_queue_due_idx", condition=Q(state="queued")),
            # A new request finds the pending summaries of the same context it supersedes.
            models.Index(fields=["tenant", "context_id"], name="summary_queue_context_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "summary_id"], name="summary_queue_summary_unique"),
            models.CheckConstraint(name="summary_queue_state_valid", condition=Q(state__in=SummaryQueueState.values)),
            models.CheckConstraint(
                name="summary_queue_queued_has_due_time", condition=~Q(state="queued") | Q(due_at__isnull=False)
            ),
            models.CheckConstraint(name="summary_queue_claims_counted", condition=Q(claims__gte=0, lost_claims__gte=0)),
        ]

    def __str__(self) -> str:
        return f"summary {self.summary_id} of {self.tenant_id}"


class BackfillProgress(models.Model):
    """How far one backfill (tenants.engine.backfill) has gone in one schema.

    Written in the same transaction as each batch it records, so that after a
    kill the next run starts exactly after the last committed batch.
    """

    backfill = models.CharField(max_length=100, help_text="The registered backfill's name.")
    schema_name = models.CharField(max_length=63)
    high_water_pk = models.BigIntegerField(
        null=True, blank=True, help_text="The table's highest key when the backfill started here: later rows need none."
    )
    last_pk = models.BigIntegerField(null=True, blank=True, help_text="Every row up to this key is done.")
    rows = models.BigIntegerField(default=0, help_text="Rows the batches changed.")
    batches = models.IntegerField(default=0)
    retries = models.IntegerField(default=0, help_text="Batches tried again after a lock timeout or a deadlock.")
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the last run stopped here, if it failed.")

    class Meta:
        db_table = "backfill_progress"
        ordering = ["backfill", "schema_name"]
        verbose_name_plural = "backfill progress"
        constraints = [
            models.UniqueConstraint(fields=["backfill", "schema_name"], name="backfill_progress_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.backfill} in {self.schema_name}"
