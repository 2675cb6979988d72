"""The public audit log: who did what, where and when."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class AuditActorType(models.TextChoices):
    USER = "user", "User"
    SYSTEM = "system", "System"
    COMMAND = "command", "Command"
    ANONYMOUS = "anonymous", "Anonymous"
    API_KEY = "api_key", "API key"


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class AuditLog(models.Model):
    """One significant action or security event. Rows are never changed."""

    ActorType = AuditActorType
    Outcome = AuditOutcome

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(db_default=Now())
    # Plain columns, not foreign keys: an entry outlives its tenant and its actor.
    tenant_id = models.BigIntegerField(null=True, blank=True)
    tenant_slug = models.CharField(max_length=63, blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(
        max_length=254, blank=True, help_text="Email, command and OS user, or API key id and name."
    )
    action = models.CharField(max_length=64, help_text="What happened, e.g. tenant.created.")
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=128, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    request_id = models.CharField(max_length=128, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "audit_logs"
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant_id", "-occurred_at"], name="audit_logs_tenant_time_idx"),
            models.Index(fields=["request_id"], name="audit_logs_request_id_idx", condition=~Q(request_id="")),
            models.Index(fields=["action", "-occurred_at"], name="audit_logs_action_time_idx"),
            models.Index(fields=["-occurred_at"], name="audit_logs_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                name="audit_logs_actor_type_valid",
                condition=Q(actor_type__in=AuditActorType.values),
            ),
            models.CheckConstraint(
                name="audit_logs_outcome_valid", condition=Q(outcome__in=AuditOutcome.values)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"
