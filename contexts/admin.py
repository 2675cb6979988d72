"""A tenant's admin (its own host): its contexts and summaries, nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator, capfirst

from audit.display import describe_action, describe_actor, format_moment, moment_html, wrappable
from audit.selectors import audit_entries_for
from contexts.errors import ContextError
from contexts.models import Context, ContextVersion, Summary
from contexts.selectors import people_by_id
from contexts.services import EDITABLE_FIELDS, context_create, context_delete, context_set_archived, context_update
from contexts.summaries import summary_request, summary_retry
from tenants.admin_sites import tenant_admin_site
from tenants.current import connection_tenant
from tenants.django_internals import missing_object_redirect
from tenants.models import Tenant

TAG_MAX_LENGTH = Context._meta.get_field("tags").base_field.max_length
# How many keys an action's message names before it says "and N more".
KEYS_NAMED = 10


def shortened(text: str, length: int) -> str:
    """The text cut to length (the whole of it in a tooltip), for a narrow column of a list."""
    cut = Truncator(text).chars(length)
    return wrappable(cut, title=text if cut != text else None)


def person(people: dict[int, str], user_id: int | None) -> str:
    """A person's name for a user id, from the page's lookup; an id of no user of this tenant is not named."""
    if user_id is None:
        return "—"
    return people.get(user_id, f"unknown user #{user_id}")


def request_tenant(request: HttpRequest) -> Tenant | None:
    """The tenant whose admin this is: the request's host's."""
    return getattr(request, "tenant", None) or connection_tenant()


class TenantModelAdmin(admin.ModelAdmin):
    """Rights follow the tenant role (checked by the site); no rows in the shared admin log.

    django_admin_log lives in public and is keyed by object id alone, so one
    tenant's entries would show up in another's history for the same id. The
    audit log, which records the tenant, keeps that record instead, and the
    History page reads it.
    """

    object_history_template = "admin/contexts/object_history.html"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    # Django's admin log is not kept (the audit log is): nothing written, so no LogEntry to return.
    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> None:  # type: ignore[override]
        return None

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> None:  # type: ignore[override]
        return None

    def log_deletions(self, request: HttpRequest, queryset: Any) -> None:  # type: ignore[override]
        return None

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        """This row's entries in the audit log: this tenant's only, never another's row with the same id."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return missing_object_redirect(self, request, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        tenant = request_tenant(request)
        if tenant is None:
            raise PermissionDenied
        paginator = self.get_paginator(request, audit_entries_for(tenant=tenant, target=obj), 100)
        page = paginator.get_page(request.GET.get(PAGE_VAR, 1))
        people = people_by_id(tenant=tenant, user_ids=[entry.actor_id for entry in page])
        rows = [
            {
                "when": format_moment(entry.occurred_at),
                "who": people.get(entry.actor_id, describe_actor(entry)),
                "what": describe_action(entry),
            }
            for entry in page
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change history: {obj}",
            "subtitle": None,
            "action_list": page,
            "rows": rows,
            "page_range": paginator.get_elided_page_range(page.number),
            "page_var": PAGE_VAR,
            "pagination_required": paginator.count > 100,
            "module_name": str(capfirst(self.opts.verbose_name_plural)),
            "object": obj,
            "opts": self.opts,
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)


class TagsField(SimpleArrayField):
    """Tags typed as one comma-separated line; blanks and repeats are dropped."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"class": "vTextField", "placeholder": "onboarding, billing"}))
        kwargs.setdefault("error_messages", {"item_invalid": "Tag %(nth)s:"})
        super().__init__(forms.CharField(max_length=TAG_MAX_LENGTH), delimiter=",", **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list | tuple) else value

    # A list, as SimpleArrayField's own to_python returns (django-stubs type it as CharField's).
    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        items = value if isinstance(value, list) else (value or "").split(self.delimiter)
        tags = [str(item).strip() for item in items]
        return list(super().to_python(list(dict.fromkeys(tag for tag in tags if tag))))


class ContextForm(forms.ModelForm):
    tags = TagsField(
        required=False,
        help_text=f"Comma-separated, e.g. onboarding, billing. At most {TAG_MAX_LENGTH} characters a tag; "
        "spaces around tags and repeated tags are dropped.",
    )

    class Meta:
        model = Context
        fields = ["key", *EDITABLE_FIELDS]


class ContextVersionInline(admin.TabularInline):
    model = ContextVersion
    extra = 0
    fields = readonly_fields = ("version", "title", "tags", "changed_by", "when")
    can_delete = False
    ordering = ["-version"]
    # Set per request by ContextAdmin.get_inline_instances: the names of the people on this page.
    people: dict[int, str] = {}

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContextVersion]:
        return super().get_queryset(request).select_related("context")  # each row's label names its context

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    @admin.display(description="changed by")
    def changed_by(self, version: ContextVersion) -> str:
        return person(self.people, version.changed_by_id)

    @admin.display(description="when")
    def when(self, version: ContextVersion) -> str:
        return format_moment(version.created_at)


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Live"), ("yes", "Archived")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Context]) -> QuerySet[Context]:
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


def named_keys(contexts: list[Context]) -> str:
    """The contexts' keys for a message, the first few of a long list."""
    keys = [context.key for context in contexts[:KEYS_NAMED]]
    more = len(contexts) - len(keys)
    return ", ".join(keys) + (f" and {more} more" if more else "")


def counted(count: int, noun: str = "context") -> str:
    """1 context, 2 contexts."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


@admin.register(Context, site=tenant_admin_site)
class ContextAdmin(TenantModelAdmin):
    form = ContextForm
    # What fits a 1280 px screen beside the filter; the rest is on each context's page.
    list_display = ["short_key", "short_title", "tag_list", "version", "updated", "archived"]
    list_filter = [ArchivedFilter]
    search_fields = ["key", "title"]
    inlines = [ContextVersionInline]
    actions = ["archive_selected", "unarchive_selected", "request_summary_selected"]
    edit_fields = ("key", "title", "content", "tags", "metadata", "expires_at")
    fieldsets = [
        (None, {"fields": edit_fields}),
        ("State", {"fields": ["version", "archived_since", "access_count", "last_read", "latest_summary"]}),
        ("Changes", {"fields": ["created", "created_by", "updated_display", "updated_by"]}),
    ]
    state_fields = [
        "key", "version", "archived_since", "access_count", "last_read", "latest_summary",
        "created", "created_by", "updated_display", "updated_by",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Context | None = None) -> Any:
        # A new context has no version, history or readings yet: the add form asks only what it needs.
        return [(None, {"fields": self.edit_fields})] if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Context | None = None) -> Any:
        # The key names a context for its clients; it is set once.
        return [] if obj is None else self.state_fields

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Context | None:
        context = super().get_object(request, object_id, from_field)
        if context is not None:
            # Every person on the page (the context's and its versions'), named in one query.
            version_authors = context.versions.order_by().values_list("changed_by_id", flat=True).distinct()
            ids: Iterable[int | None] = [context.created_by_id, context.updated_by_id, *version_authors]
            tenant = request_tenant(request)
            context.people = people_by_id(tenant=tenant, user_ids=ids) if tenant is not None else {}
        return context

    def get_inline_instances(self, request: HttpRequest, obj: Context | None = None) -> list[Any]:
        if obj is None:
            return []  # a new context has no versions to list
        inlines = super().get_inline_instances(request, obj)
        for inline in inlines:  # fresh instances for each request
            inline.people = getattr(obj, "people", {})  # type: ignore[attr-defined]  # read by ContextVersionInline
        return inlines

    @admin.display(description="key", ordering="key")
    def short_key(self, context: Context) -> str:
        return shortened(context.key, 48)

    @admin.display(description="title", ordering="title")
    def short_title(self, context: Context) -> str:
        return shortened(context.title, 50)

    @admin.display(description="tags")
    def tag_list(self, context: Context) -> str:
        return shortened(", ".join(context.tags), 40)

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, context: Context) -> str:
        return moment_html(context.updated_at, seconds=False)

    @admin.display(description="archived", boolean=True, ordering="archived_at")
    def archived(self, context: Context) -> bool:
        return context.is_archived

    @admin.display(description="archived")
    def archived_since(self, context: Context) -> str:
        return format_moment(context.archived_at) or "no (live)"

    @admin.display(description="last read")
    def last_read(self, context: Context) -> str:
        return format_moment(context.last_accessed_at) or "never"

    @admin.display(description="created")
    def created(self, context: Context) -> str:
        return format_moment(context.created_at)

    @admin.display(description="updated")
    def updated_display(self, context: Context) -> str:
        return format_moment(context.updated_at)

    @admin.display(description="latest summary")
    def latest_summary(self, context: Context) -> str:
        summary = context.summaries.order_by("-created_at", "-id").first()
        if summary is None:
            return "none yet (Request a summary, in the list's actions)"
        summary.context = context
        url = reverse(f"{self.admin_site.name}:contexts_summary_change", args=[summary.pk])
        return format_html('<a href="{}">{}</a>', url, summary_state(summary))

    @admin.display(description="created by")
    def created_by(self, context: Context) -> str:
        return person(getattr(context, "people", {}), context.created_by_id)

    @admin.display(description="updated by")
    def updated_by(self, context: Context) -> str:
        return person(getattr(context, "people", {}), context.updated_by_id)

    def save_model(self, request: HttpRequest, obj: Context, form: forms.ModelForm, change: bool) -> None:
        values = {field: form.cleaned_data[field] for field in EDITABLE_FIELDS if field in form.cleaned_data}
        if change:
            changed = {field: values[field] for field in form.changed_data if field in values}
            saved = context_update(context=obj, changes=changed, actor=request.user) if changed else obj
        else:
            saved = context_create(key=form.cleaned_data["key"], actor=request.user, **values)
        people = getattr(obj, "people", None)
        obj.__dict__.update(saved.__dict__)
        if people is not None:
            obj.people = people  # type: ignore[attr-defined]

    def delete_model(self, request: HttpRequest, obj: Context) -> None:
        context_delete(context=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Context]) -> None:
        for context in queryset:
            context_delete(context=context, actor=request.user)

    @admin.action(description="Archive the selected contexts")
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Context]) -> None:
        self._set_archived(request, queryset, archived=True)

    @admin.action(description="Unarchive the selected contexts")
    def unarchive_selected(self, request: HttpRequest, queryset: QuerySet[Context]) -> None:
        self._set_archived(request, queryset, archived=False)

    @admin.action(description="Request a summary of the selected contexts")
    def request_summary_selected(self, request: HttpRequest, queryset: QuerySet[Context]) -> None:
        contexts = list(queryset.order_by("key"))
        for context in contexts:
            summary_request(context=context, actor=request.user)
        self.message_user(request, f"Requested a summary of {counted(len(contexts))}: {named_keys(contexts)}. "
                          "The summary worker makes it; its state is under Summaries.", messages.SUCCESS)

    def _set_archived(self, request: HttpRequest, queryset: QuerySet[Context], *, archived: bool) -> None:
        """Archive or unarchive each context, then say which were changed and which already were so."""
        done, already = [], []
        for context in queryset.order_by("key"):
            if context.is_archived == archived:
                already.append(context)
                continue
            context_set_archived(context=context, archived=archived, actor=request.user)
            done.append(context)
        verb = "Archived" if archived else "Unarchived"
        state = "archived" if archived else "live"
        parts = []
        if done:
            parts.append(f"{verb} {counted(len(done))}: {named_keys(done)}.")
        else:
            parts.append(f"{verb} nothing.")
        if already:
            were = "was" if len(already) == 1 else "were"
            parts.append(f"{counted(len(already))} {were} already {state}: {named_keys(already)}.")
        self.message_user(request, " ".join(parts), messages.SUCCESS if done else messages.WARNING)


def summary_state(summary: Summary) -> str:
    """A summary's state in a few words: version, status, quality, staleness."""
    parts = [f"v{summary.context_version}", summary.status]
    if summary.quality_score is not None:
        parts.append(f"quality {summary.quality_score:.2f}")
    if summary.is_stale:
        parts.append(f"stale: the context is at v{summary.context.version}")
    return ", ".join(parts)


class StaleFilter(admin.SimpleListFilter):
    title = "stale"
    parameter_name = "stale"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Of the current version"), ("yes", "Of an older version")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Summary]) -> QuerySet[Summary]:
        if self.value() == "no":
            return queryset.filter(context_version=F("context__version"))
        if self.value() == "yes":
            return queryset.exclude(context_version=F("context__version"))
        return queryset


def metrics_text(values: dict[str, Any]) -> str:
    """A JSON object of metrics as lines of name: value."""
    if not values:
        return "—"
    return "\n".join(
        f"{name.replace('_', ' ')}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for name, value in values.items()
    )


@admin.register(Summary, site=tenant_admin_site)
class SummaryAdmin(TenantModelAdmin):
    # What fits a 1280 px screen beside the filters; the rest is on each summary's page.
    list_display = ["context_key", "of_version", "status", "backend", "quality", "created"]
    list_filter = ["status", StaleFilter, "backend"]
    search_fields = ["context__key", "text"]
    list_select_related = ["context"]
    actions = ["retry_selected"]
    fieldsets = [
        (None, {"fields": ["context", "version_summarised", "status", "text"]}),
        ("Quality", {"fields": ["quality", "quality_details"]}),
        ("Attempts", {"fields": ["attempts_used", "last_error", "next_attempt", "started", "finished"]}),
        ("Processing", {"fields": ["backend", "model", "processing_details", "created", "updated"]}),
    ]
    readonly_fields = [
        "context", "version_summarised", "status", "text", "quality", "quality_details", "attempts_used",
        "last_error", "next_attempt", "started", "finished", "backend", "model", "processing_details",
        "created", "updated",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # summaries are made by the summarizer; request one from the contexts' list

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a summary is a record of what was made; it goes with its context

    @admin.action(description="Retry the selected failed summaries")
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[Summary]) -> None:
        retried, refused = [], []
        for summary in queryset.select_related("context").order_by("id"):
            try:
                summary_retry(summary=summary, actor=request.user)
                retried.append(f"{summary.context.key} v{summary.context_version}")
            except ContextError:
                refused.append(f"{summary.context.key} v{summary.context_version} ({summary.status})")
        parts = [f"Retrying {len(retried)}: {', '.join(retried)}." if retried else "Retried nothing."]
        if refused:
            parts.append(f"Only failed summaries can be retried; left as they were: {', '.join(refused)}.")
        self.message_user(request, " ".join(parts), messages.SUCCESS if retried and not refused else messages.WARNING)

    @admin.display(description="context", ordering="context__key")
    def context_key(self, summary: Summary) -> str:
        return shortened(summary.context.key, 40)

    @admin.display(description="version", ordering="context_version")
    def of_version(self, summary: Summary) -> str:
        return f"v{summary.context_version}" + (" (stale)" if summary.is_stale else "")

    @admin.display(description="of version")
    def version_summarised(self, summary: Summary) -> str:
        if summary.is_stale:
            return f"v{summary.context_version}: stale, the context has changed since (it is at v{summary.context.version})"
        return f"v{summary.context_version} (the current version)"

    @admin.display(description="quality", ordering="quality_score")
    def quality(self, summary: Summary) -> str:
        return "—" if summary.quality_score is None else f"{summary.quality_score:.2f}"

    @admin.display(description="metrics")
    def quality_details(self, summary: Summary) -> str:
        return metrics_text(summary.quality_metrics)

    @admin.display(description="metadata")
    def processing_details(self, summary: Summary) -> str:
        return metrics_text(summary.processing_metadata)

    @admin.display(description="attempts")
    def attempts_used(self, summary: Summary) -> str:
        return f"{summary.attempts} of {summary.max_attempts}"

    @admin.display(description="next attempt")
    def next_attempt(self, summary: Summary) -> str:
        return format_moment(summary.next_attempt_at) or "—"

    @admin.display(description="started")
    def started(self, summary: Summary) -> str:
        return format_moment(summary.started_at) or "—"

    @admin.display(description="finished")
    def finished(self, summary: Summary) -> str:
        return format_moment(summary.finished_at) or "—"

    @admin.display(description="created", ordering="created_at")
    def created(self, summary: Summary) -> str:
        return moment_html(summary.created_at, seconds=False)

    @admin.display(description="updated")
    def updated(self, summary: Summary) -> str:
        return format_moment(summary.updated_at)
