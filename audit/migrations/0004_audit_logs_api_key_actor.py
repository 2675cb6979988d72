"""API keys become an actor of their own in audit_logs.

The check constraint is replaced the online way: added NOT VALID (no scan,
a brief lock), then validated under a lock that lets reads and writes go on.
"""

from django.db import migrations, models

ACTOR_TYPES = ["user", "system", "command", "anonymous", "api_key"]
OLD_ACTOR_TYPES = ["user", "system", "command", "anonymous"]


def replace_check(actor_types: list[str]) -> str:
    values = ", ".join(f"'{value}'" for value in actor_types)
    return (
        "ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_actor_type_valid; "
        f"ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_actor_type_valid CHECK (actor_type IN ({values})) NOT VALID; "
        "ALTER TABLE audit_logs VALIDATE CONSTRAINT audit_logs_actor_type_valid;"
    )


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_audit_logs_prune_minimum_age"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="auditlog", name="audit_logs_actor_type_valid"),
                migrations.AddConstraint(
                    model_name="auditlog",
                    constraint=models.CheckConstraint(
                        condition=models.Q(actor_type__in=ACTOR_TYPES), name="audit_logs_actor_type_valid"
                    ),
                ),
            ],
            database_operations=[migrations.RunSQL(replace_check(ACTOR_TYPES), replace_check(OLD_ACTOR_TYPES))],
        ),
        # Choices and help text live in Django's state only: no SQL.
        migrations.AlterField(
            model_name="auditlog",
            name="actor_label",
            field=models.CharField(
                blank=True, help_text="Email, command and OS user, or API key id and name.", max_length=254
            ),
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="actor_type",
            field=models.CharField(
                choices=[("user", "User"), ("system", "System"), ("command", "Command"), ("anonymous", "Anonymous"),
                         ("api_key", "API key")],
                max_length=16,
            ),
        ),
    ]
