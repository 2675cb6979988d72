"""A tenant's summaries configuration: validated where it is changed, resolved over the platform's settings."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contexts.summarizer.config import summary_config
from tenants.models import Tenant
from tenants.services import tenant_update
from tests.tenants.test_admin import signed_in_client


@pytest.mark.parametrize("config, message", [
    ({"summaries": "on"}, '"summaries" is an object'),
    ({"summaries": {"automatic": True}}, '"summaries" has unknown keys: automatic'),
    ({"summaries": {"auto": "yes"}}, '"summaries.auto" is true or false.'),
    ({"summaries": {"backend": "gpt-magic"}}, "gpt-magic.* is not a summarizer backend"),
    ({"summaries": {"model": "m" * 200}}, '"summaries.model" is a model name of at most 128 characters.'),
    ({"summaries": {"max_attempts": 0}}, '"summaries.max_attempts" is a whole number from 1 to 20.'),
    ([], "The configuration is a JSON object."),
])
def test_a_config_the_worker_could_not_follow_is_refused_and_nothing_changes(acme, config, message):
    with pytest.raises(ValidationError, match=message):
        tenant_update(tenant=acme, changes={"config": config})
    assert Tenant.objects.get(pk=acme.pk).config == {}


def test_the_platform_admin_form_shows_the_refusal(acme):
    client = signed_in_client("localhost", tenant=None)
    url = f"/admin/tenants/tenant/{acme.pk}/change/"
    form = {"name": "Acme", "plan": "free", "subscription_status": "none", "config": '{"summaries": {"backend": "x"}}',
            "domains-TOTAL_FORMS": "0", "domains-INITIAL_FORMS": "0"}
    page = client.post(url, form).content.decode()
    assert "is not a summarizer backend" in page
    assert Tenant.objects.get(pk=acme.pk).config == {}


def test_the_tenants_choices_override_the_platforms_settings(acme, settings):
    settings.SUMMARIZER_BACKEND, settings.SUMMARIZER_MODEL, settings.SUMMARIZER_MAX_ATTEMPTS = "openai", "big", 3
    assert summary_config(acme) == summary_config(None)
    assert (summary_config(acme).backend, summary_config(acme).model, summary_config(acme).auto) == ("openai", "big",
                                                                                                     False)
    tenant_update(tenant=acme, changes={"config": {"summaries": {"auto": True, "backend": "extractive",
                                                                 "max_attempts": 5}}})
    acme.refresh_from_db()
    chosen = summary_config(acme)
    assert (chosen.auto, chosen.backend, chosen.model, chosen.max_attempts) == (True, "extractive", "extractive-v1", 5)
    tenant_update(tenant=acme, changes={"config": {"summaries": {"model": "small"}}})
    acme.refresh_from_db()
    assert (summary_config(acme).backend, summary_config(acme).model) == ("openai", "small")
