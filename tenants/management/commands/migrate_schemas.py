"""django-tenants' migrate_schemas, run by the fleet executor under the migration lock, and recorded."""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants.engine.executor import RUN_CONTEXT_OPTION, FleetExecutor, RunContext
from tenants.engine.lock import migration_lock
from tenants.engine.progress import run_display
from tenants.engine.run_log import run_fail, run_finish, run_start, run_summary
from tenants.engine.waves import wave_schema_names
from tenants.errors import TenantNotFound
from tenants.management.base import ProjectCommand, add_progress_argument, add_wave_arguments
from tenants.models import Tenant, TenantPlan
from tenants.naming import PUBLIC_SCHEMA
from tenants.schema_switch import restoring_schema
from tenants.services import ensure_public_tenant


class Command(ProjectCommand, MigrateSchemasCommand):
    needs_session = True  # runs migrations (tenants.session_database: MIGRATION_DATABASE_URL, no transaction pooler)
    help = (
        "Migrate the public schema (--shared), every tenant schema (--tenant), or one (--schema, or the "
        "TENANT_ID environment variable holding a slug or schema name); with none of these, all of them. "
        "Give an app and a migration to go forward or back to it (`contexts 0001`, `contexts zero`). "
        "Tenant schemas are migrated by the fast `fleet` executor unless --executor says otherwise. "
        "One run at a time: a second waits up to --lock-wait seconds. Waves: --tenants, --plan and --canary "
        "migrate some tenants first; a run without them afterwards migrates the rest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        # Django's --plan (a flag) gives way to one that also takes a plan's name: `--plan` alone still shows
        # Django's migration plan, `--plan enterprise` migrates the tenants on that plan. argparse replaces an
        # option only with its "resolve" conflict handler, which the optionals' group keeps a copy of.
        groups = (parser, parser._optionals)
        for container in groups:
            container.conflict_handler = "resolve"
        parser.add_argument(
            "--plan", nargs="?", const=True, metavar="PLAN",
            help=f"With a plan's name ({', '.join(TenantPlan.values)}): only the tenants on that plan. "
            "Alone: show the migrations that would run (Django's --plan), without running them.",
        )
        for container in groups:
            container.conflict_handler = "error"
        add_wave_arguments(parser, plan=False)
        parser.add_argument(
            "--json", action="store_true",
            help="Print the run's summary as one JSON document on stdout (the progress goes to stderr).",
        )
        add_progress_argument(parser)
        parser.add_argument("--fail-fast", action="store_true", help="Stop at the first schema that fails.")
        parser.add_argument(
            "--lock-wait", type=float, default=settings.MIGRATION_LOCK_WAIT,
            help="Seconds to wait for another run to finish (default: %(default)s).",
        )
        parser.add_argument(
            "--lock-timeout", type=int, default=settings.MIGRATION_LOCK_TIMEOUT_MS,
            help="Milliseconds a migration may wait for a table lock before its schema fails (default: %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wave_plan = read_plan_option(options)
        tenant_id = os.environ.get("TENANT_ID", "").strip()
        if tenant_id and not options.get("schema_name") and not options.get("shared"):
            options["schema_name"] = schema_name_of(tenant_id)
        options["executor"] = options.get("executor") or os.environ.get("EXECUTOR") or default_executor(options)
        fleet = options["executor"] == FleetExecutor.codename
        wave = wave_schema_names(slugs=options.get("tenants"), plan=wave_plan, canary=options.get("canary"))
        refuse_conflicting_options(options, wave=wave is not None, fleet=fleet)
        verbosity = int(options["verbosity"])
        # With --json, stdout carries the document alone: the rest (Django's output for public too) goes to stderr.
        human = self.stderr if options.get("json") else self.stdout
        if options.get("json"):
            options["stdout"] = options.get("stderr") or sys.stderr
        context = RunContext(
            fail_fast=options["fail_fast"],
            lock_timeout_ms=options["lock_timeout"],
            write=lambda line: human.write(line, style_func=unstyled),
            verbosity=verbosity,
            display=run_display(human, mode=options.get("progress") or "auto", verbosity=verbosity),
            wave=wave,
        )
        if fleet:  # django-tenants' multiprocessing executor pickles the options; this is for ours only
            options[RUN_CONTEXT_OPTION] = context
        started_at = timezone.now()
        command = command_line()
        target = " ".join(filter(None, [options.get("app_label"), options.get("migration_name")]))
        # django-tenants' executors leave the connection on public (or the last schema): put back the caller's.
        with restoring_schema(), migration_lock(wait_seconds=options["lock_wait"], dedicated_connection=not fleet):
            if not options.get("shared"):
                refuse_missing_schemas(options.get("schema_name"))
            context.run = run_start(command=command, target=target)
            try:
                super().handle(*args, **options)
                if self.sync_public:
                    ensure_public_tenant()
                if context.run is None:  # a new database: the history's table exists now, this run goes in it
                    context.run = run_start(command=command, target=target, started_at=started_at)
            except RuntimeError as exc:  # django-tenants' "Schema ... does not exist"
                run_fail(context.run, context.results, exc)
                raise CommandError(str(exc)) from exc
            except BaseException as exc:
                run_fail(context.run, context.results, exc)
                raise
            run_finish(context.run, context.results)
        self._summarise(context, human, as_json=bool(options.get("json")))

    def _summarise(self, context: RunContext, human: Any, *, as_json: bool) -> None:
        """One line for the run (public and tenant schemas together), then each failure on stderr; or JSON."""
        if as_json:
            self.stdout.write(json.dumps(run_summary(context.results, run=context.run), indent=2))
        if not context.results:
            return  # django-tenants' own executors report as they go
        results = context.results
        migrated = sum(len(result.migrated) for result in results)
        current = sum(result.current for result in results)
        failed = [outcome for result in results for outcome in result.failed]
        line = (
            f"Migrated {migrated} schema(s), {current} already current, {len(failed)} failed "
            f"in {sum(result.duration_s for result in results):.2f} s."
        )
        if any(result.stopped_early for result in results):
            line += " Stopped at the first failure (--fail-fast)."
        if context.verbosity >= 1 or failed:
            human.write(self.style.ERROR(line) if failed else self.style.SUCCESS(line))
        if migrated >= VACUUM_HINT_SCHEMAS and context.verbosity >= 1:
            human.write(
                f"{migrated} schemas changed leave many dead rows in the catalogs; until autovacuum has been through "
                f"them, catalog-heavy work is slower. Now: VACUUM (ANALYZE) {', '.join(BUSY_CATALOGS)};"
            )
        for outcome in failed:
            self.stderr.write(f"  {outcome.schema_name}: {outcome.error}")
        if failed:
            raise CommandError(
                f"{len(failed)} schema(s) failed; they are unchanged. Fix the cause and run again: "
                "only what is left will be applied."
            )


# From this many schemas changed a run says to vacuum the catalogs: at 10,000 tenants one AddField left some 60,000
# dead rows in pg_attribute, and autovacuum working through them made the next run or creation 2-3x slower.
VACUUM_HINT_SCHEMAS = 1000
BUSY_CATALOGS = ("pg_catalog.pg_attribute", "pg_catalog.pg_class", "pg_catalog.pg_depend", "pg_catalog.pg_type")


# Flags whose meaning is Django's migrate's own (show, check, or fake rather than apply): the fleet
# executor only applies, so with these every schema goes through django-tenants' standard executor.
DJANGO_MIGRATE_FLAGS = {
    "plan": "--plan", "check_unapplied": "--check", "fake": "--fake", "fake_initial": "--fake-initial",
    "prune": "--prune", "run_syncdb": "--run-syncdb",
}


def read_plan_option(options: dict[str, Any]) -> str | None:
    """Split --plan into Django's flag (options["plan"]) and the plan of a wave, which this returns.

    `--plan contexts` (Django's flag before an app label) reads as a plan named "contexts": an app label
    that names no plan is given back to Django, with the positional arguments shifted.
    """
    value = options.get("plan")
    if not isinstance(value, str):
        options["plan"] = bool(value)
        return None
    if value in TenantPlan.values:
        options["plan"] = False
        return value
    from django.apps import apps

    if any(config.label == value for config in apps.get_app_configs()) and not options.get("migration_name"):
        options["plan"] = True
        options["app_label"], options["migration_name"] = value, options.get("app_label")
        return None
    return value  # refused by the wave's selector, which names the plans


def refuse_conflicting_options(options: dict[str, Any], *, wave: bool, fleet: bool) -> None:
    """Refuse in one line what a wave or --json cannot be combined with."""
    if wave and options.get("schema_name"):
        raise CommandError(
            "--tenants, --plan and --canary choose tenants; --schema (or TENANT_ID) names one: give one or the other."
        )
    if wave and options.get("shared"):
        raise CommandError("--shared migrates public only; --tenants, --plan and --canary choose tenant schemas.")
    if (wave or options.get("json")) and not fleet:
        flags = [option for flag, option in DJANGO_MIGRATE_FLAGS.items() if options.get(flag)]
        raise CommandError(
            f"A wave (--tenants, --plan NAME, --canary) and --json need the fleet executor, not {options['executor']!r}"
            + (f" (which {', '.join(flags)} selects)." if flags else ".")
        )


def unstyled(text: str) -> str:
    return text


def default_executor(options: dict[str, Any]) -> str:
    """The fleet executor, unless a flag asks for what only Django's own migrate does."""
    return "standard" if any(options.get(flag) for flag in DJANGO_MIGRATE_FLAGS) else FleetExecutor.codename


def command_line() -> str:
    """The command as typed, for the run record ('migrate_schemas' when called from code)."""
    if sys.argv[1:2] in (["migrate_schemas"], ["migrate"]):
        return shlex.join(sys.argv[1:])
    return "migrate_schemas"


def schema_name_of(tenant_id: str) -> str:
    """Return the schema of the tenant named by slug or schema name."""
    schema_name = (
        Tenant.objects.filter(Q(slug=tenant_id) | Q(schema_name=tenant_id)).values_list("schema_name", flat=True).first()
    )
    if schema_name is None:
        raise TenantNotFound(f"TENANT_ID={tenant_id!r} names no tenant (give its slug or schema name).")
    return schema_name


def refuse_missing_schemas(schema_name: str | None) -> None:
    """Stop before migrating if a tenant's schema is gone, naming the tenants and the fix."""
    with connection.cursor() as cursor:  # not introspection.table_names(): it lists every schema's tables
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{PUBLIC_SCHEMA}.{Tenant._meta.db_table}"])
        if not cursor.fetchone()[0]:
            return  # a new database: public is about to be migrated, there are no tenants yet
    tenants = Tenant.objects.exclude(schema_name=PUBLIC_SCHEMA)
    if schema_name:
        tenants = tenants.filter(schema_name=schema_name)
    missing = sorted(
        tenants.exclude(schema_name__in=RawSQL("SELECT nspname FROM pg_namespace", [])).values_list("slug", flat=True)
    )
    if missing:
        raise CommandError(
            f"The schema of tenant(s) {', '.join(missing)} does not exist; "
            "run manage.py create_missing_schemas to recreate it empty, or restore it from a backup."
        )
