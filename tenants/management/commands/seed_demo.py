"""Prepare a development database: the public tenant, a platform admin and a demo tenant with contexts."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import transaction
from django_tenants.utils import tenant_context

from contexts.models import Context
from contexts.services import context_create
from tenants.links import admin_url
from tenants.management.base import ProjectCommand
from tenants.models import Tenant, User
from tenants.services import default_domain_for, ensure_public_tenant, tenant_create

DEMO_CONTEXTS = [
    ("project-brief", "Project brief", "The assistant helps the support team answer billing questions.", ["brief"]),
    ("style-guide", "Style guide", "Answer in plain English; cite the invoice number when there is one.", ["style"]),
    ("glossary", "Glossary", "MRR: monthly recurring revenue. ARR: annual recurring revenue.", ["reference"]),
]


class Command(ProjectCommand):
    help = (
        "For development: make sure the public tenant, a platform admin and a demo tenant (with an owner and a few "
        "contexts) exist, give both accounts a fresh password, and print where and how to sign in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", default="demo", help="The demo tenant's slug (default: demo).")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        ensure_public_tenant()
        slug = options["slug"]
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            tenant, _ = tenant_create(slug=slug, name="Demo", plan=Tenant.Plan.TEAM, actor_label=self.actor_label)
        with tenant_context(tenant):
            for key, title, content, tags in DEMO_CONTEXTS:
                if not Context.objects.filter(key=key).exists():
                    context_create(key=key, title=title, content=content, tags=tags)

        admin_email = f"admin@{settings.BASE_DOMAIN}"
        admin_password = self._reset_password(admin_email, tenant=None)
        owner_email = f"owner@{default_domain_for(slug)}"
        owner_password = self._reset_password(owner_email, tenant=tenant)
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  Platform admin: {admin_url(settings.BASE_DOMAIN)}  {admin_email} / {admin_password}")
        self.stdout.write(f"  Demo tenant:    {admin_url(default_domain_for(slug))}  {owner_email} / {owner_password}")

    def _reset_password(self, email: str, *, tenant: Tenant | None) -> str:
        """Create the account if needed and give it a fresh random password."""
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(email=email, tenant=tenant).first()
        if user is not None:
            user.set_password(password)
            user.save(update_fields=["password"])
        elif tenant is None:
            User.objects.create_superuser(email, password)
        else:
            User.objects.create_user(email, password, tenant=tenant, role=User.Role.OWNER)
        return password
