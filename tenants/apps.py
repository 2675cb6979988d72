from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Platform"  # tenants, users and API keys: a tenant's admin shows only its API keys here
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import signals  # noqa: F401  (connects the user audit and lookup cache receivers)
