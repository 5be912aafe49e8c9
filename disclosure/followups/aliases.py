"""The alias table of a warrant: the pseudonyms and aliases its delivered conversations packages named.

The follow-up form lists them so that an officer ticks the people the investigators asked about. The
table is read back from each delivered package by ``disclosure.exports.layout.read_participants`` (the
one reader of the layout ``disclosure.exports.package`` writes), decrypted on the fly
(``disclosure.packages.package_open``: packages are stored sealed) and cached per package. A package
that cannot be read (damaged, or its warrant's keys destroyed) is logged and named in
:attr:`AliasTable.unreadable`, so that the form can say so; a purged package is not read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.cache import cache

from requests_app.models import Warrant
from warrantdesk.exceptions import DomainError

from ..exports.layout import PSEUDONYMISED, PackageUnreadable, read_participants
from ..models import Export
from ..packages import package_open

logger = logging.getLogger(__name__)
CACHE_SECONDS = 3600


@dataclass(frozen=True)
class Alias:
    token: str
    alias: str
    messages: int = 0

    @property
    def short(self) -> str:
        """The pseudonym as a person recognises it: its start and its end."""
        return f"{self.token[:14]}…{self.token[-6:]}" if len(self.token) > 24 else self.token


class AliasTable(list[Alias]):
    """The aliases, in the order the packages named them, and the exports whose table could not be read."""

    def __init__(self, aliases=(), *, unreadable: list[int] | None = None):
        super().__init__(aliases)
        self.unreadable: list[int] = list(unreadable or [])  # Export pks


def delivered_aliases(warrant: Warrant) -> AliasTable:
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
    unreadable: list[int] = []
    for export in exports:
        key = f"followup-aliases:{export.pk}:{export.package_sha256}"
        people = cache.get(key)
        if people is None:
            try:
                with package_open(export) as handle:
                    people = read_participants(handle)[PSEUDONYMISED]
            except (OSError, PackageUnreadable, DomainError) as error:
                # The message names the file and the fault, never a person.
                logger.warning("alias table of export #%s cannot be read: %s", export.pk, error)
                unreadable.append(export.pk)
                continue
            cache.set(key, people, CACHE_SECONDS)
        for person in people:
            aliases.setdefault(person["token"], Alias(person["token"], person["alias"], int(person.get("messages", 0))))
    return AliasTable(aliases.values(), unreadable=unreadable)
