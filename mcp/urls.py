"""URLs of a tenant's host: its admin and its REST API."""

from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mcp.problems import problem_page
from mcp.views import healthz, live
from tenants.admin_sites import tenant_admin_site

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", tenant_admin_site.urls),
    path("api/v1/", include("contexts.api.urls")),
    # The API's OpenAPI document and its Swagger UI, readable without a key (SPECTACULAR_SETTINGS says why).
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", live, name="healthz-live"),
    path("problems/<slug:slug>", problem_page, name="problem"),
]
