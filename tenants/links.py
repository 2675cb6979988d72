"""Absolute URLs the project prints or mails: the one place their scheme, host and port are decided."""

from __future__ import annotations

from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}


def site_url(domain: str, path: str = "/") -> str:
    """Return the URL of path on this host name, with the scheme and port of SITE_URL."""
    port = settings.SITE_PORT
    netloc = domain if port in (None, DEFAULT_PORTS[settings.SITE_SCHEME]) else f"{domain}:{port}"
    return f"{settings.SITE_SCHEME}://{netloc}{path}"


def admin_url(domain: str) -> str:
    """Return the sign-in address of the admin served at this host name."""
    return site_url(domain, "/admin/")
