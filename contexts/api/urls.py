"""Routes of the REST API on a tenant's host, under /api/v1/.

Keys may contain slashes, so a context's sub-resources are matched first, by
their reserved last segments (contexts.limits.RESERVED_KEY_SEGMENTS). A version
or summary id is any one segment: the view answers 404 when it names nothing
(abc, 0, past the largest id), rather than the path falling through to the
context route and its 405.
"""

from django.urls import re_path

from contexts.api import views

KEY = r"(?P<key>[^/]+(?:/[^/]+)*?)"

app_name = "api"
urlpatterns = [
    re_path(r"^contexts/?$", views.ContextCollection.as_view(), name="context-list"),
    re_path(r"^contexts:batch-get$", views.BatchGetView.as_view(), name="context-batch-get"),
    re_path(rf"^contexts/{KEY}/archive$", views.ContextArchive.as_view(), name="context-archive"),
    re_path(rf"^contexts/{KEY}/unarchive$", views.ContextUnarchive.as_view(), name="context-unarchive"),
    re_path(rf"^contexts/{KEY}/versions$", views.VersionList.as_view(), name="version-list"),
    re_path(rf"^contexts/{KEY}/versions/(?P<version>[^/]+)$", views.VersionDetail.as_view(),
            name="version-detail"),
    re_path(rf"^contexts/{KEY}/versions/(?P<version>[^/]+)/restore$", views.VersionRestore.as_view(),
            name="version-restore"),
    re_path(rf"^contexts/{KEY}/diff$", views.VersionDiff.as_view(), name="version-diff"),
    re_path(rf"^contexts/{KEY}/summaries$", views.SummaryCollection.as_view(), name="summary-list"),
    re_path(rf"^contexts/{KEY}/summaries/(?P<summary_id>[^/]+)$", views.SummaryDetail.as_view(),
            name="summary-detail"),
    re_path(rf"^contexts/{KEY}/summaries/(?P<summary_id>[^/]+)/retry$", views.SummaryRetry.as_view(),
            name="summary-retry"),
    re_path(rf"^contexts/{KEY}$", views.ContextDetail.as_view(), name="context-detail"),
    # Anything else under /api/v1/ is an API 404 (problem+json), not the site's HTML page.
    re_path(r"^", views.api_not_found),
]
