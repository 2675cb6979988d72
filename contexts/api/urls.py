"""Routes of the REST API on a tenant's host, under /api/v1/.

Keys may contain slashes, so a context's sub-resources are matched first, by
their reserved last segments (contexts.limits.RESERVED_KEY_SEGMENTS).
"""

from django.urls import re_path

from contexts.api import views

KEY = r"(?P<key>[^/]+(?:/[^/]+)*?)"

app_name = "api"
urlpatterns = [
    re_path(r"^contexts/?$", views.ContextCollection.as_view(), name="context-list"),
    re_path(r"^contexts:batch-get$", views.BatchGetView.as_view(), name="context-batch-get"),
    re_path(rf"^contexts/{KEY}/archive$", views.ContextArchive.as_view(archived=True), name="context-archive"),
    re_path(rf"^contexts/{KEY}/unarchive$", views.ContextArchive.as_view(archived=False), name="context-unarchive"),
    re_path(rf"^contexts/{KEY}/versions$", views.VersionList.as_view(), name="version-list"),
    re_path(rf"^contexts/{KEY}/versions/(?P<version>[0-9]{{1,9}})$", views.VersionDetail.as_view(),
            name="version-detail"),
    re_path(rf"^contexts/{KEY}/versions/(?P<version>[0-9]{{1,9}})/restore$", views.VersionRestore.as_view(),
            name="version-restore"),
    re_path(rf"^contexts/{KEY}/diff$", views.VersionDiff.as_view(), name="version-diff"),
    re_path(rf"^contexts/{KEY}/summaries$", views.SummaryCollection.as_view(), name="summary-list"),
    re_path(rf"^contexts/{KEY}/summaries/(?P<summary_id>[0-9]{{1,18}})$", views.SummaryDetail.as_view(),
            name="summary-detail"),
    re_path(rf"^contexts/{KEY}/summaries/(?P<summary_id>[0-9]{{1,18}})/retry$", views.SummaryRetry.as_view(),
            name="summary-retry"),
    re_path(rf"^contexts/{KEY}$", views.ContextDetail.as_view(), name="context-detail"),
]
