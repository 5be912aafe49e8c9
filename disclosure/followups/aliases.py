"""The alias table of a warrant: the pseudonyms and aliases its delivered conversations packages named.

The follow-up form lists them so that an officer ticks the people the investigators asked about.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

from django.core.cache import cache

from requests_app.models import Warrant

from ..models import Export


@dataclass(frozen=True)
class Alias:
    token: str
    alias: str
    messages: int = 0

    @property
    def short(self) -> str:
        """The pseudonym as a person recognises it: its start and its end."""
        return f"{self.token[:14]}…{self.token[-6:]}" if len(self.token) > 24 else self.token


_MARKER = b'],"participants":{"targets":['


def _participants(archive: zipfile.ZipFile) -> dict:
    """The ``participants`` block of conversations.json, which the exporter writes last.

    The package of a large warrant holds hundreds of megabytes of messages: stream through them to
    the block instead of parsing them. The marker cannot occur inside a message (quotes are escaped).
    """
    with archive.open("conversations.json") as member:
        tail, found = b"", None
        while chunk := member.read(1 << 20):
            if found is not None:
                found.write(chunk)
                continue
            window = tail + chunk
            at = window.find(_MARKER)
            if at >= 0:
                found = io.BytesIO(window[at + 2 :])  # from "participants"
            else:
                tail = window[-len(_MARKER) :]
    if found is None:
        raise ValueError("no participants in conversations.json")
    return json.loads(b"{" + found.getvalue())["participants"]


def delivered_aliases(warrant: Warrant) -> list[Alias]:
    """Pseudonyms and aliases as the delivered conversations packages of the warrant named them."""
    exports = (
        Export.objects.filter(
            warrant=warrant,
            kind=Export.Kind.CONVERSATIONS,
            status=Export.Status.READY,
            purged_at__isnull=True,
            deliveries__isnull=False,
        )
        .distinct()
        .order_by("pk")
    )
    aliases: dict[str, Alias] = {}
    for export in exports:
        key = f"followup-aliases:{export.pk}:{export.package_sha256}"
        people = cache.get(key)
        if people is None:
            try:
                with export.package.open("rb") as handle, zipfile.ZipFile(handle) as archive:
                    people = _participants(archive).get("pseudonymised", [])
            except (OSError, KeyError, ValueError, zipfile.BadZipFile):
                continue
            cache.set(key, people, 3600)
        for person in people:
            aliases.setdefault(person["token"], Alias(person["token"], person["alias"], int(person.get("messages", 0))))
    return list(aliases.values())
