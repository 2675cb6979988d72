"""URLs of a tenant's host: its admin and its REST API."""

from django.urls import include, path
from django.views.generic import RedirectView

from mcp.problems import problem_page
from mcp.views import healthz, live
from tenants.admin_sites import tenant_admin_site

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", tenant_admin_site.urls),
    path("api/v1/", include("contexts.api.urls")),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", live, name="healthz-live"),
    path("problems/<slug:slug>", problem_page, name="problem"),
]
