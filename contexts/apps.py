from django.apps import AppConfig


class ContextsConfig(AppConfig):
    name = "contexts"
    verbose_name = "Contexts"
    default_auto_field = "django.db.models.BigAutoField"
