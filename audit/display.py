"""How audit entries and times read in the admin: one wording for every page that shows them."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from audit.models import AuditLog


def format_moment(value: dt.datetime | None, *, seconds: bool = True) -> str:
    """A time with its zone, e.g. 2026-12-01 23:41:07 UTC (or 2026-12-01 23:41 UTC without seconds)."""
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def moment_html(value: dt.datetime | None, *, seconds: bool = True) -> str:
    """format_moment for a narrow column: it breaks only between the date and the time."""
    text = format_moment(value, seconds=seconds)
    if not text:
        return ""
    day, _, rest = text.partition(" ")
    return format_html('<span style="white-space:nowrap">{}</span> <span style="white-space:nowrap">{}</span>', day, rest)


# The longest run of characters a narrow column must fit without a break.
LONGEST_UNBROKEN = 12


def _breakable_word(word: str) -> SafeString:
    """One word with break points after its separators and within any long run of characters."""
    pieces = [
        piece[start:start + LONGEST_UNBROKEN]
        for piece in re.split(r"(?<=[/@._-])", word)
        for start in range(0, len(piece), LONGEST_UNBROKEN)
    ]
    return format_html_join(mark_safe("<wbr>"), "{}", ((piece,) for piece in pieces))


def wrappable(text: str, url: str | None = None, title: str | None = None) -> SafeString:
    """Text for a narrow column: it may break after / @ . _ and - and within any long run of characters.

    Keys, slugs and emails have no spaces; without these break points one long
    name pushes a list wider than the screen.
    """
    joined = format_html_join("", "{}", ((_breakable_word(token),) for token in re.split(r"(\s+)", text)))
    tag, target = ("a", format_html(' href="{}"', url)) if url else ("span", "")
    tooltip = format_html(' title="{}"', title) if title else ""
    return format_html('<{}{}{} style="overflow-wrap:break-word">{}</{}>', tag, target, tooltip, joined, tag)


def describe_actor(entry: AuditLog) -> str:
    """Who acted, in words: the email, the command, or what kind of actor it was."""
    if entry.actor_type == AuditLog.ActorType.USER:
        return entry.actor_label or (f"user #{entry.actor_id}" if entry.actor_id is not None else "a user")
    if entry.actor_type == AuditLog.ActorType.COMMAND:
        return f"command {entry.actor_label}" if entry.actor_label else "a command"
    return entry.get_actor_type_display().lower()


def describe_target(entry: AuditLog) -> str:
    """What was acted on, short: its kind and its name if the entry kept one, e.g. context onboarding/notes."""
    if not entry.target_type:
        return ""
    kind = entry.target_type.rsplit(".", 1)[-1]
    details = entry.details if isinstance(entry.details, dict) else {}
    if kind == "tenant" and entry.tenant_slug:
        return f"tenant {entry.tenant_slug}"
    name = details.get("key") or details.get("domain") or details.get("email")
    if not name and kind == "user" and entry.target_id == str(entry.actor_id):
        name = entry.actor_label  # a user acting on their own account: signing in or out
    return f"{kind} {name}" if name else f"{kind} #{entry.target_id}"


def describe_action(entry: AuditLog) -> str:
    """What happened, in words, e.g. Updated content, tags (v3); with the outcome when it was not a success."""
    verb = entry.action.rsplit(".", 1)[-1].replace("_", " ").capitalize()
    details = entry.details if isinstance(entry.details, dict) else {}
    fields = details.get("fields")
    text = f"{verb} {', '.join(str(field) for field in fields)}" if isinstance(fields, list) and fields else verb
    version = details.get("version") or details.get("context_version")
    if version:
        text += f" (v{version})"
    if entry.outcome != AuditLog.Outcome.SUCCESS:
        text += f": {entry.get_outcome_display().lower()}"
    return text
