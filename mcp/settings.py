"""Settings for the MCP context store.

Everything that differs between machines is read from the environment here and
nowhere else. Defaults are safe for development; DEBUG defaults to off, and with
DEBUG off the project refuses to start without SECRET_KEY and DATABASE_URL.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mcp.env import ConfigurationError, database_from_url, env_bool, env_int, env_list, mask_password

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigurationError("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

# Tenants are served at <slug>.<BASE_DOMAIN>; the public host is BASE_DOMAIN itself.
BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost").strip().lower()
# Where people reach the service, as the URLs it prints and mails name it: their scheme and
# port come from here (tenant hosts keep them and change the host). The development default
# is where `make run` serves; production defaults to https on the standard port.
SITE_URL = os.environ.get("SITE_URL", "").strip() or (f"http://{BASE_DOMAIN}:8000" if DEBUG else f"https://{BASE_DOMAIN}")
_site = urlsplit(SITE_URL)
try:
    SITE_PORT = _site.port
except ValueError:
    raise ConfigurationError(f"SITE_URL={SITE_URL!r} has a port that is not a number.") from None
if _site.scheme not in ("http", "https") or _site.hostname != BASE_DOMAIN or _site.path not in ("", "/"):
    raise ConfigurationError(
        f"SITE_URL={SITE_URL!r} must be http(s)://{BASE_DOMAIN}[:port], the public host (BASE_DOMAIN) and nothing after it."
    )
SITE_SCHEME = _site.scheme

# Addresses that serve the public host as well as BASE_DOMAIN: the ones the development
# server's banner shows (http://0.0.0.0:8000/, http://127.0.0.1:8000/). None in production.
PUBLIC_HOST_ALIASES = env_list("PUBLIC_HOST_ALIASES", ["127.0.0.1", "0.0.0.0"] if DEBUG else [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}", "127.0.0.1", *PUBLIC_HOST_ALIASES])

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()

# --- Database -----------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    _database = database_from_url("DATABASE_URL", DATABASE_URL)  # PostgreSQL only; anything else is refused
elif DEBUG:
    from mcp.embedded_postgres import EmbeddedPostgresError, embedded_database

    try:
        _database = embedded_database(Path(os.environ.get("EMBEDDED_PG_DIR", BASE_DIR / ".data" / "postgres")))
    except EmbeddedPostgresError as exc:
        raise ConfigurationError(str(exc)) from None
else:
    raise ConfigurationError(
        "DATABASE_URL must be set when DEBUG is off; the embedded PostgreSQL is for development only."
    )

# django-tenants' backend, health-checking a persistent connection at most once a second (mcp/postgresql_backend).
_database["ENGINE"] = "mcp.postgresql_backend"
_database.setdefault("OPTIONS", {})
_database["OPTIONS"].setdefault("application_name", "mcp")
# Behind PgBouncer in transaction mode a server-side cursor (QuerySet.iterator()) would be declared in one
# transaction and read in another, on another server connection; Django's advice is to turn them off. Without
# them .iterator() fetches its rows at once, which costs nothing that matters here (admin choice lists).
_database["DISABLE_SERVER_SIDE_CURSORS"] = True
DATABASES = {"default": _database}
# The search path is set for each transaction (SET LOCAL, carried with the statement in autocommit), never left on
# the session, so that PgBouncer in transaction mode cannot hand one tenant's path to another's query
# (mcp/postgresql_backend). false restores django-tenants' session-level SET: only to show that leak.
SEARCH_PATH_PER_TRANSACTION = env_bool("SEARCH_PATH_PER_TRANSACTION", default=True)
# Migration commands hold session state (the migration lock, per-schema transactions): when DATABASE_URL goes
# through a transaction-pooling PgBouncer, they connect here instead, directly to PostgreSQL
# (tenants.session_database; without it they refuse to run through such a pooler).
MIGRATION_DATABASE_URL = os.environ.get("MIGRATION_DATABASE_URL", "").strip()
MIGRATION_DATABASE = database_from_url("MIGRATION_DATABASE_URL", MIGRATION_DATABASE_URL) if MIGRATION_DATABASE_URL else None
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

# --- Caches ----------------------------------------------------------------------

# "default" holds the request budgets (tenants.rate_limits), "lookups" the host → tenant and key → API key
# rows (tenants.cache); both are shared by every worker process. With REDIS_URL, Redis holds both. Without
# it the budgets go to Django's database cache (the table of tenants' migration 0006), and the lookups
# are not cached at all: a cache read there costs a query, as reading the row itself does.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
# Entries of one database only, should two share a Redis (a development database and the benchmark's).
_cache_prefix = f"mcp:{_database['NAME']}"
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    if urlsplit(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
        raise ConfigurationError(f"REDIS_URL={mask_password(REDIS_URL)!r} is not a redis://, rediss:// or unix:// URL.")
    CACHES = {
        alias: {"BACKEND": "mcp.redis_cache.RedisCache", "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"{_cache_prefix}:{alias}"}
        for alias in ("default", "lookups")
    }
else:
    CACHES = {
        "default": {
            # Django's, counting requests in one atomic statement (mcp/database_cache.py).
            "BACKEND": "mcp.database_cache.DatabaseCache",
            "LOCATION": "django_cache",
            # Culling (which also removes expired rows) starts past this many rows. Django's 300 would drop
            # live counters on a platform with a few hundred busy keys; each write counts the rows, so not millions.
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        },
        "lookups": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }

# Migration runs: how long a second run waits for the first, and how long a
# migration may wait for a table lock before its schema is reported failed.
MIGRATION_LOCK_WAIT = env_int("MIGRATION_LOCK_WAIT", 10)
MIGRATION_LOCK_TIMEOUT_MS = env_int("MIGRATION_LOCK_TIMEOUT_MS", 5000)
# Online data migrations (manage.py backfill): the rest between two batches, how long a batch may wait for a
# lock (then it is rolled back and tried again) and how long it may run (then it is tried again at half the size).
BACKFILL_PAUSE_MS = env_int("BACKFILL_PAUSE_MS", 100)
BACKFILL_LOCK_TIMEOUT_MS = env_int("BACKFILL_LOCK_TIMEOUT_MS", 1000)
BACKFILL_STATEMENT_TIMEOUT_MS = env_int("BACKFILL_STATEMENT_TIMEOUT_MS", 30_000)

# --- Summaries (README, "Summaries"; contexts.summarizer.config checks these) ------


def _env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ConfigurationError(f"{name}={value!r} is not a number of seconds.") from None


# The backend and model a tenant gets unless its config names others: extractive (built in) or openai
# (any OpenAI-compatible chat-completions endpoint at SUMMARIZER_URL, e.g. http://localhost:11434/v1).
SUMMARIZER_BACKEND = os.environ.get("SUMMARIZER_BACKEND", "extractive").strip().lower()
SUMMARIZER_URL = os.environ.get("SUMMARIZER_URL", "").strip()
SUMMARIZER_MODEL = os.environ.get("SUMMARIZER_MODEL", "").strip()
SUMMARIZER_API_KEY = os.environ.get("SUMMARIZER_API_KEY", "").strip()
# One call to the endpoint; the worker gives any backend this long and 10 s more.
SUMMARIZER_TIMEOUT = _env_seconds("SUMMARIZER_TIMEOUT", 60)
# The start of a longer context is sent (the endpoint's model has a context window).
SUMMARIZER_MAX_INPUT_CHARS = env_int("SUMMARIZER_MAX_INPUT_CHARS", 48_000)
# A worker's claim lapses this long after its last renewal (it renews every third of it while it works).
SUMMARIZER_CLAIM_SECONDS = _env_seconds("SUMMARIZER_CLAIM_SECONDS", 60)
# A failed attempt is retried after base x 2^(attempt-1) seconds, at most max, less up to half (jitter).
SUMMARIZER_RETRY_BASE_SECONDS = _env_seconds("SUMMARIZER_RETRY_BASE_SECONDS", 30)
SUMMARIZER_RETRY_MAX_SECONDS = _env_seconds("SUMMARIZER_RETRY_MAX_SECONDS", 3600)
SUMMARIZER_MAX_ATTEMPTS = env_int("SUMMARIZER_MAX_ATTEMPTS", 3)

# --- Applications ---------------------------------------------------------------

SHARED_APPS = [
    # Our tenants app comes first so that its migrate_schemas and create_tenant
    # commands take the place of django-tenants' own.
    "tenants",
    "django_tenants",
    "audit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's JavaScript and CSS as static files of our own: /api/docs/ loads nothing from elsewhere.
    "drf_spectacular_sidecar",
]
TENANT_APPS = [
    "contexts",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "mcp.urls_public"
ROOT_URLCONF = "mcp.urls"
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = ["tenants.auth.TenantModelBackend"]
# Emails are unique per tenant (users belong to one tenant), enforced by a
# database constraint; the tenant-aware backend looks users up by (tenant, email).
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

MIDDLEWARE = [
    "audit.middleware.RequestIdMiddleware",
    "tenants.middleware.TenantMiddleware",
    "tenants.middleware.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.TenantUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "mcp.wsgi.application"
ASGI_APPLICATION = "mcp.asgi.application"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One way of showing dates and times across the admin (mcp/formats): 2026-12-01 23:39:58 UTC.
FORMAT_MODULE_PATH = ["mcp.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# In development WhiteNoise serves straight from the apps' static folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- The API ---------------------------------------------------------------------

# What each plan may store and how fast its keys may call (contexts.limits reads these).
# Request budgets are per minute, per key and per tenant, shared by REST and MCP.
PLAN_LIMITS: dict[str, dict[str, Any]] = {
    "free": {"max_content_bytes": 64 * 1024, "max_contexts": 1_000, "max_total_bytes": 50 * 1024**2,
             "requests_per_minute_key": 120, "requests_per_minute_tenant": 300},
    "team": {"max_content_bytes": 1024**2, "max_contexts": 100_000, "max_total_bytes": 5 * 1024**3,
             "requests_per_minute_key": 600, "requests_per_minute_tenant": 3_000},
    "enterprise": {"max_content_bytes": 4 * 1024**2, "max_contexts": None, "max_total_bytes": None,
                   "requests_per_minute_key": 3_000, "requests_per_minute_tenant": 30_000},
}
# An MCP call that reads a context writes its audit entry in the read's own transaction (contexts.services), which
# commits without waiting for the disk, as the read's count does; true: it waits, as every change's entry does.
DURABLE_READ_AUDIT = env_bool("DURABLE_READ_AUDIT", default=False)
# Refused credentials (unknown, revoked, another tenant's key …) from one address on one tenant's host, a minute:
# each is audited, and past this many the answer is 429 and only the first refusal over it is (tenants.rate_limits).
REFUSED_CREDENTIALS_PER_MINUTE = env_int("REFUSED_CREDENTIALS_PER_MINUTE", 60)
# A request body larger than the largest plan's content (with room for JSON escaping) is refused unread.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * max(limits["max_content_bytes"] for limits in PLAN_LIMITS.values())

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["contexts.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["contexts.api.auth.HasScope"],
    "DEFAULT_PARSER_CLASSES": ["contexts.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "contexts.api.negotiation.ContentNegotiation",
    "EXCEPTION_HANDLER": "contexts.api.problems.problem_exception_handler",
    # Per key and per tenant, by plan (PLAN_LIMITS), in the cache every worker shares: tenants.rate_limits.
    "DEFAULT_THROTTLE_CLASSES": ["contexts.api.throttling.KeyAndTenantRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI document of the REST API (/api/schema/ on every tenant host) and its Swagger UI (/api/docs/).
SPECTACULAR_SETTINGS = {
    "TITLE": "MCP context store API",
    "DESCRIPTION": (
        "Each tenant's contexts, their versions and their summaries, on the tenant's own host "
        "(`https://<slug>.<base domain>/api/v1/`). Send an API key of that tenant as "
        "`Authorization: Bearer <key>`. Writes name what they expect: `If-None-Match: *` to create, "
        "`If-Match: \"v<version>\"` (the ETag you read) to change or delete; without one the answer is 428, "
        "with a stale one 412. Every error is `application/problem+json` (RFC 9457) with a stable `type`, "
        "a `detail` for a person, `errors[]` for fields and the `request_id`."
    ),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    # The document is the same for every tenant and names no data, and a person must be able to open the
    # docs page before pasting a key into it: both are served without a key (contexts.api.schema).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"SummaryStatus": "contexts.models.SummaryStatus"},
    "PREPROCESSING_HOOKS": ["contexts.api.schema.api_endpoints_only"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "displayOperationId": True},
}

# --- The MCP endpoint (mcp/server) --------------------------------------------------

# The largest answer /mcp (or mcp_stdio) sends, in bytes of JSON: longer texts are cut, with a marker saying so.
# Some clients cap a tool's output at 25,000 tokens (about 100 KB of text).
MCP_MAX_RESULT_BYTES = env_int("MCP_MAX_RESULT_BYTES", 100_000)
if MCP_MAX_RESULT_BYTES < 4096:
    raise ConfigurationError(f"MCP_MAX_RESULT_BYTES={MCP_MAX_RESULT_BYTES} is too small; at least 4096.")
# Browser origins, besides the tenant's own, that may call /mcp (comma-separated, e.g. http://localhost:6274 for
# the MCP Inspector's page). A request with another Origin is refused (403); clients that are not browsers send none.
MCP_ALLOWED_ORIGINS = env_list("MCP_ALLOWED_ORIGINS", ["http://localhost:6274", "http://127.0.0.1:6274"] if DEBUG else [])

# --- Security -------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Logging --------------------------------------------------------------------

LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ConfigurationError(f"LOG_FORMAT={LOG_FORMAT!r} is not plain or json.")

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "audit.logging.RequestContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(tenant)s %(user)s] %(message)s"},
        "json": {"()": "audit.logging.JsonLogFormatter"},
        # runserver's access log (its own lines, after the request's context is gone), as Django prints it.
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": sys.stderr,
            "filters": ["request_context"],
            "formatter": LOG_FORMAT,
        },
        "django.server": {"class": "logging.StreamHandler", "stream": sys.stderr, "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives "django" a console handler of its own (with DEBUG on) and lets the
        # record propagate to ours too: every request warning printed twice. Here the root handler alone
        # prints it, at LOG_LEVEL.
        "django": {"handlers": [], "level": "NOTSET", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # SQL with its parameters is never logged, whatever LOG_LEVEL says: parameters can be secrets.
        "django.db.backends": {"level": "INFO"},
        "pgserver": {"level": "WARNING"},
        # The openai client's HTTP library logs every request at INFO; the summary worker prints its own lines.
        "httpx2": {"level": "WARNING"},
    },
}

# --- Migration linter (development and CI only) ---------------------------------

# `make lint-migrations` runs django-migration-linter on the project's migrations. Its
# lintmigrations command is tenants' (tenants/management/commands/lintmigrations.py), which
# imports the linter when it runs: not an app, so no other command (a migration run above
# all) pays for importing it, about 0.2 s. Configured only with DEBUG on. It reads each
# migration's SQL through our sqlmigrate, which renders tenant apps on a tenant schema:
# their real DDL is what gets checked.
# The safe ways to write a migration are in the README, "Writing a migration".
if DEBUG and importlib.util.find_spec("django_migration_linter") is not None:
    # Migrations a person has reviewed and accepted although they lock or rewrite a table
    # (add a comment saying why beside each). Matched by name in every app: keep names unique.
    REVIEWED_MIGRATIONS: list[str] = [
        # Computes search_vector for every context of a tenant and builds its index, rewriting the
        # contexts table once under an exclusive lock, one tenant at a time (the engine migrates schema
        # by schema). Reviewed when no tenant held more than a demo's rows; at scale, write such a change
        # as a trigger-maintained column with a batched backfill and an index built concurrently.
        "0002_context_search_vector",
        # Creates the database cache's table, new and empty; reviewed because the linter reads the reverse SQL
        # of a RunSQL as a change of its own, and that reverse drops the table (as a CreateModel's reverse would).
        "0006_django_cache_table",
        # Creates public.tenant_django_migrations, new and empty (reviewed for the same reason as 0006 above).
        "0009_tenant_django_migrations",
        # Turns a tenant schema's django_migrations table, a few rows, into a view over that table: a moment's
        # exclusive lock on a table only migrations use.
        "0006_django_migrations_in_public",
    ]
    MIGRATION_LINTER_OPTIONS = {
        "include_apps": ["tenants", "audit", "contexts"],
        "ignore_name": REVIEWED_MIGRATIONS,
        # An app's initial migration creates its own tables, empty when it runs, so it cannot
        # lock anything.
        "ignore_initial_migrations": True,
        # The linter only warns about these; here they fail: each locks a table that has rows,
        # or leaves a migration that cannot be rolled back.
        "warnings_as_errors": [
            "CREATE_INDEX",
            "CREATE_INDEX_EXCLUSIVE",
            "DROP_INDEX",
            "REINDEX",
            "RUNPYTHON_REVERSIBLE",
            "RUNSQL_REVERSIBLE",
        ],
        # Its PostgreSQL checks, completed (tenants/ci/migration_lint.py): a volatile column default, a
        # CHECK or FOREIGN KEY without NOT VALID, and every index statement, not only the first.
        # (tenants.ci.migration_lint.SQL_ANALYSER_NAME, registered by the lintmigrations command before it runs.)
        "sql_analyser": "project_postgresql",
        # Its cache would replay an old verdict after this configuration changes; a run takes a second.
        "no_cache": True,
    }
    # It logs every sqlmigrate call at INFO; its verdicts go to stdout.
    LOGGING["loggers"]["django_migration_linter"] = {"level": "WARNING"}
