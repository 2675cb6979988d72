"""Each tenant's own tables: contexts, their versions, and their summaries.

These live in the tenant's schema. No foreign key leaves it: users are
referred to by id, so one schema can be dumped, restored or moved on its own.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

# The text search configuration of search_vector; queries must use the same one.
SEARCH_CONFIG = "english"


class Context(models.Model):
    """A piece of contextual data an MCP application stores and reads back by key."""

    key = models.CharField(max_length=255, unique=True, help_text="The client's name for this context.")
    title = models.CharField(max_length=500, blank=True)
    content = models.TextField(blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    access_count = models.BigIntegerField(default=0, editable=False)
    last_accessed_at = models.DateTimeField(null=True, blank=True, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by_id = models.BigIntegerField(null=True, blank=True, editable=False)
    updated_by_id = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Full-text search over key, title and content, kept by PostgreSQL itself (a stored generated column),
    # so no write path can forget it. English stemming; the key and title weigh more than the content.
    search_vector = models.GeneratedField(
        expression=SearchVector("key", "title", weight="A", config=SEARCH_CONFIG)
        + SearchVector("content", weight="B", config=SEARCH_CONFIG),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        db_table = "contexts"
        ordering = ["-updated_at", "-id"]
        indexes = [
            GinIndex(fields=["tags"], name="contexts_tags_gin"),
            GinIndex(fields=["search_vector"], name="contexts_search_gin"),
            models.Index(fields=["expires_at"], name="contexts_expires_at_idx", condition=Q(expires_at__isnull=False)),
            # The usual listing: live contexts, most recently changed first.
            models.Index(
                fields=["-updated_at", "-id"], name="contexts_live_updated_idx", condition=Q(archived_at__isnull=True)
            ),
        ]
        constraints = [
            models.CheckConstraint(name="contexts_version_positive", condition=Q(version__gte=1)),
            models.CheckConstraint(name="contexts_access_count_non_negative", condition=Q(access_count__gte=0)),
            models.CheckConstraint(name="contexts_key_not_blank", condition=~Q(key="")),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class ContextVersion(models.Model):
    """The state of a context after one change; written with every change."""

    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=500, blank=True)
    content = models.TextField(blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    changed_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "context_versions"
        ordering = ["context", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["context", "version"], name="context_versions_context_version_unique"),
            models.CheckConstraint(name="context_versions_version_positive", condition=Q(version__gte=1)),
        ]

    def __str__(self) -> str:
        return f"v{self.version} of {self.context.key}"


class SummaryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    # A newer request for the same context took its place before a worker started on it.
    SUPERSEDED = "superseded", "Superseded"


class Summary(models.Model):
    """An AI-generated summary of one version of a context, and how it was made."""

    Status = SummaryStatus

    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="summaries")
    context_version = models.PositiveIntegerField(help_text="The context version this summarises.")
    text = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    backend = models.CharField(max_length=64, blank=True, help_text="The summarizer backend, e.g. extractive.")
    model = models.CharField(max_length=128, blank=True, help_text="The model the backend used.")
    quality_score = models.FloatField(null=True, blank=True, help_text="0 to 1.")
    quality_metrics = models.JSONField(default=dict, blank=True)
    processing_metadata = models.JSONField(default=dict, blank=True, help_text="Timings, sizes, tokens.")
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "summaries"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "summaries"
        indexes = [
            # The worker's query: due work by status and time.
            models.Index(fields=["status", "next_attempt_at"], name="summaries_status_next_idx"),
            models.Index(fields=["context", "-context_version"], name="summaries_context_version_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                name="summaries_status_valid", condition=Q(status__in=SummaryStatus.values)
            ),
            models.CheckConstraint(name="summaries_max_attempts_positive", condition=Q(max_attempts__gte=1)),
            models.CheckConstraint(
                name="summaries_attempts_within_max", condition=Q(attempts__lte=F("max_attempts"))
            ),
            models.CheckConstraint(
                name="summaries_quality_score_range",
                condition=Q(quality_score__isnull=True) | Q(quality_score__gte=0, quality_score__lte=1),
            ),
            models.CheckConstraint(name="summaries_context_version_positive", condition=Q(context_version__gte=1)),
        ]

    def __str__(self) -> str:
        return f"Summary of {self.context.key} v{self.context_version} ({self.status})"

    @property
    def is_stale(self) -> bool:
        """Whether the context has changed since the version this summarises (reads self.context)."""
        return self.context.version != self.context_version
