"""URLs of a tenant's host: its admin, its REST API and its MCP endpoint."""

from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerView

from contexts.api.schema import ApiDocumentView
from mcp.problems import problem_page
from mcp.server.views import mcp_endpoint, protected_resource_metadata
from mcp.views import healthz, live
from tenants.admin_sites import tenant_admin_site

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", tenant_admin_site.urls),
    path("api/v1/", include("contexts.api.urls")),
    # The API's OpenAPI document and its Swagger UI, readable without a key (SPECTACULAR_SETTINGS says why).
    path("api/schema/", ApiDocumentView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("mcp", mcp_endpoint, name="mcp"),
    # RFC 9728 metadata of the /mcp resource: at the path-inserted address, and at the root for clients that look there.
    path(".well-known/oauth-protected-resource/mcp", protected_resource_metadata, name="mcp-resource-metadata"),
    path(".well-known/oauth-protected-resource", protected_resource_metadata),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", live, name="healthz-live"),
    path("problems/<slug:slug>", problem_page, name="problem"),
]
