"""Which summarizer a tenant's summaries use, and whether changes request them: settings, then the tenant's config.

A tenant's config (Tenant.config, a JSON object) may hold:

    {"summaries": {"auto": true, "backend": "openai", "model": "llama3.1:8b", "max_attempts": 5}}

The endpoint and its API key are the platform's (SUMMARIZER_URL, SUMMARIZER_API_KEY): a tenant picks
among the backends and models the platform runs, and never sees a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

# The backends there are; contexts.summarizer.backends builds them.
BACKEND_NAMES = ("extractive", "openai")
TENANT_KEYS = {"auto", "backend", "model", "max_attempts"}
MAX_ATTEMPTS_LIMIT = 20
MODEL_MAX_LENGTH = 128


@dataclass(frozen=True)
class SummaryConfig:
    auto: bool
    backend: str
    model: str
    max_attempts: int


def validate_backend(name: str, origin: str) -> str:
    """Return a known backend's name, or raise ValidationError naming where the value came from."""
    if name not in BACKEND_NAMES:
        raise ValidationError(f"{origin}={name!r} is not a summarizer backend; use one of: {', '.join(BACKEND_NAMES)}.")
    return name


def validate_tenant_config(config: Any) -> None:
    """Refuse a tenant config whose "summaries" part the worker could not follow."""
    if not isinstance(config, dict):
        raise ValidationError({"config": "The configuration is a JSON object."})
    part = config.get("summaries")
    if part is None:
        return
    try:
        if not isinstance(part, dict):
            raise ValidationError('"summaries" is an object, e.g. {"auto": true, "backend": "extractive"}.')
        unknown = sorted(set(part) - TENANT_KEYS)
        if unknown:
            raise ValidationError(
                f'"summaries" has unknown keys: {", ".join(unknown)}; known: {", ".join(sorted(TENANT_KEYS))}.'
            )
        if "auto" in part and not isinstance(part["auto"], bool):
            raise ValidationError('"summaries.auto" is true or false.')
        if "backend" in part:
            validate_backend(part["backend"] if isinstance(part["backend"], str) else repr(part["backend"]),
                             '"summaries.backend"')
        model = part.get("model", "")
        if not isinstance(model, str) or len(model) > MODEL_MAX_LENGTH:
            raise ValidationError(f'"summaries.model" is a model name of at most {MODEL_MAX_LENGTH} characters.')
        attempts = part.get("max_attempts", 1)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
            raise ValidationError(f'"summaries.max_attempts" is a whole number from 1 to {MAX_ATTEMPTS_LIMIT}.')
    except ValidationError as exc:
        raise ValidationError({"config": exc.messages}) from None


def summary_config(tenant: Any) -> SummaryConfig:
    """The summaries settings in force for a tenant: its own config over the platform's settings."""
    part = (getattr(tenant, "config", None) or {}).get("summaries") or {}
    backend = part.get("backend") or settings.SUMMARIZER_BACKEND
    # A model named for another backend than the one in force means nothing to it.
    own_backend = part.get("backend") in (None, backend)
    model = (part.get("model") if own_backend else "") or default_model(backend)
    return SummaryConfig(
        auto=bool(part.get("auto", False)), backend=backend, model=model,
        max_attempts=int(part.get("max_attempts", settings.SUMMARIZER_MAX_ATTEMPTS)),
    )


def default_model(backend: str) -> str:
    """The model a backend uses when nobody names one."""
    from contexts.summarizer.extractive import MODEL_NAME

    return MODEL_NAME if backend == "extractive" else settings.SUMMARIZER_MODEL


def settings_problems() -> list[str]:
    """What is wrong with the platform's SUMMARIZER_* settings, one line each (empty when nothing is)."""
    problems = []
    try:
        validate_backend(settings.SUMMARIZER_BACKEND, "SUMMARIZER_BACKEND")
    except ValidationError as exc:
        problems.extend(exc.messages)
    for name in ("SUMMARIZER_TIMEOUT", "SUMMARIZER_CLAIM_SECONDS", "SUMMARIZER_RETRY_BASE_SECONDS",
                 "SUMMARIZER_RETRY_MAX_SECONDS"):
        if not getattr(settings, name) > 0:
            problems.append(f"{name} must be a number of seconds above 0.")
    if not 1 <= settings.SUMMARIZER_MAX_ATTEMPTS <= MAX_ATTEMPTS_LIMIT:
        problems.append(f"SUMMARIZER_MAX_ATTEMPTS must be from 1 to {MAX_ATTEMPTS_LIMIT}.")
    return problems
