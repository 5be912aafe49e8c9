"""What the keys and values of audit details mean, in the reader's language.

Audit details are the record (hashed into the chain) and keep their stable keys and stored values
(``sha256``, ``outcome: EXPIRED``); pages show them through ``{{ entry.details|audit_details }}``:
one label per known key (verbose names, ``gettext_lazy``) and, for keys whose values come from a set
of choices, that choice's label. Unknown keys and values are shown as stored. Each app registers
its own keys and choices in its ``AppConfig.ready`` (``register``), so this module, at the bottom
of the dependency chain, imports no app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from .stored_text import render

LABELS: dict[str, Any] = {
    # written by warrantdesk itself (sign-in, admin, audit pages)
    "username": _("user name"),
    "user": _("user"),
    "op": _("operation"),
    "fields": _("fields"),
    "ok": _("intact"),
    "count": _("count"),
    "problem": _("problem"),
    "path": _("page"),
    "object_type": _("object type"),
    "object_id": _("object id"),
    "reason": _("reason"),
    "note": _("note"),
    "error": _("error"),
    # manage.py rotate_kek (keys.rotated)
    "newest_kek": _("newest KEK"),
    "rewrapped": _("keys re-wrapped, by former KEK"),
    "failed": _("keys not re-wrapped, by KEK"),
    "already_newest": _("keys already under the newest KEK"),
    "destroyed_skipped": _("destroyed keys skipped"),
    "keys_seen": _("keys examined"),
    "keys_listed": _("keys in the store"),
    "interrupted": _("interrupted"),
}
VALUES: dict[str, dict[str, Any]] = {
    "op": {"add": _("added"), "change": _("changed"), "delete": _("deleted")},
    "by": {"system": _("warrantdesk"), "user": _("a person")},
}
_BOOLEANS = {True: _("yes"), False: _("no")}


def register(
    labels: Mapping[str, Any] | None = None, values: Mapping[str, Iterable[tuple[str, Any]]] | None = None
) -> None:
    """Add labels for detail keys, and choices (``(value, label)`` pairs) for the values of keys."""
    LABELS.update(labels or {})
    for key, choices in dict(values or {}).items():
        VALUES.setdefault(key, {}).update(dict(choices))


def label(key: str) -> str:
    return str(LABELS.get(key, key))


def value(key: str, stored: Any) -> str:
    if isinstance(stored, bool):
        return str(_BOOLEANS[stored])
    if isinstance(stored, list):
        return ", ".join(value(key, item) for item in stored)
    if isinstance(stored, dict):  # e.g. {"ALTERED": 2}: the choice labels of ``key`` with their counts
        return ", ".join(f"{value(key, name)}: {value('', count)}" for name, count in stored.items())
    if stored is None:
        return "—"
    choice = VALUES.get(key, {}).get(stored) if isinstance(stored, str) else None
    if choice is not None:
        return str(choice)
    if key in {"reason", "note", "error"} and isinstance(stored, str):
        return render(stored)  # English sentences warrantdesk wrote (stored_text)
    return str(stored)


def rows(details: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) pairs of an entry's details, in the stored key order."""
    return [(label(key), value(key, stored)) for key, stored in (details or {}).items()]
