"""URLs of the public host: the platform admin."""

from django.urls import path
from django.views.generic import RedirectView

from mcp.problems import problem_page
from mcp.views import healthz, live
from tenants.admin_sites import platform_admin_site

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", platform_admin_site.urls),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", live, name="healthz-live"),
    path("problems/<slug:slug>", problem_page, name="problem"),
]
