"""Possible duplicates: the same agency and warrant number logged twice, or the same file (SHA-256)
attached to two warrants. A warning the officer confirms, never a silent accept and never a refusal:
a warrant may be re-issued under its number, a court order may be attached to two cases.

Warrant numbers are compared by ``warrant_number_key``: Unicode compatibility form (full-width
letters and digits become ASCII), case folded, without spaces, dashes of any kind (including the
Hangul vowel ㅡ and the katakana bar Korean keyboards give for a dash) and invisible characters.
"2026 고단-1234", "２０２６고단１２３４" and "2026고단 – 1234" are one number.

Who learns what: an officer is told about a duplicate in a case they may see with its reference and
a link; about one in a case they are not assigned to only that it exists ("another case you are not
assigned to"), never its reference, status or content. The officer already holds the warrant number
and the file, and without the warning the operator would answer the same warrant twice: an
administrator, who sees every case, can tell them more.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext as _

from warrantdesk.exceptions import Conflict

from .models import Document, Warrant
from .permissions import can_view

# Characters typed as a dash that Unicode does not file as dash punctuation (Pd).
_DASH_LIKE = frozenset("\u2212\u2043\u02d7\u3161\u1173\u30fc\uff70\u2015\u2500\u2501\ufe63\u00ad")
_DROPPED_CATEGORIES = frozenset({"Pd", "Zs", "Zl", "Zp", "Cc", "Cf"})
MAX_SHOWN = 10

NUMBER = "warrant_number"
DOCUMENT = "document"


def warrant_number_key(number: str) -> str:
    """The warrant number as compared for duplicates (see the module docstring)."""
    text = unicodedata.normalize("NFKC", number or "").casefold()
    kept = (
        char
        for char in text
        if not char.isspace() and char not in _DASH_LIKE and unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    return "".join(kept)[:100]


@dataclass(frozen=True)
class Duplicate:
    warrant: Warrant
    reason: str  # NUMBER or DOCUMENT
    visible: bool  # may the person told about it see that case?

    def as_dict(self) -> dict:
        """For the API: the other case's id and reference only when the caller may see it."""
        return {
            "reason": self.reason,
            "warrant": self.warrant.pk if self.visible else None,
            "reference": self.warrant.reference if self.visible else None,
            "assigned": self.visible,
        }

    def sentence(self) -> str:
        values = {"reference": self.warrant.reference}
        if self.reason == NUMBER:
            if self.visible:
                return _("The same agency and warrant number are already logged as %(reference)s.") % values
            return _("The same agency and warrant number are already logged in another case you are not assigned to.")
        if self.visible:
            return _("The same file (SHA-256) is already attached to %(reference)s.") % values
        return _("The same file (SHA-256) is already attached to another case you are not assigned to.")


class PossibleDuplicate(Conflict):
    """The warrant or document looks like one already logged; send it again with the duplicate confirmed."""

    code = "possible_duplicate"

    def __init__(self, duplicates: list[Duplicate]):
        self.duplicates = duplicates
        sentences = " ".join(dict.fromkeys(duplicate.sentence() for duplicate in duplicates))
        super().__init__(
            _("Possible duplicate. %(found)s Check it is not the same warrant, then confirm to log it anyway.")
            % {"found": sentences}
        )


def find(*, agency, warrant_number: str = "", sha256s=(), user, exclude: Warrant | None = None) -> list[Duplicate]:
    """Other warrants of ``agency`` with the same warrant number, and other warrants holding a file
    with one of ``sha256s``; at most ``MAX_SHOWN`` of each, oldest first."""
    found: dict[tuple[int, str], Duplicate] = {}
    key = warrant_number_key(warrant_number)
    candidates: list[tuple[str, list[Warrant]]] = []
    if key:
        same_number = Warrant.objects.filter(agency=agency, warrant_number_key=key)
        if exclude is not None:
            same_number = same_number.exclude(pk=exclude.pk)
        candidates.append((NUMBER, list(same_number.order_by("pk")[:MAX_SHOWN])))
    sha256s = [sha for sha in sha256s if sha]
    if sha256s:
        holders = Document.objects.filter(sha256__in=sha256s).values("warrant")
        same_file = Warrant.objects.filter(pk__in=holders)
        if exclude is not None:
            same_file = same_file.exclude(pk=exclude.pk)
        candidates.append((DOCUMENT, list(same_file.order_by("pk")[:MAX_SHOWN])))
    for reason, warrants in candidates:
        for warrant in warrants:
            found.setdefault((warrant.pk, reason), Duplicate(warrant, reason, bool(user and can_view(user, warrant))))
    return list(found.values())


def of_warrant(warrant: Warrant, *, user) -> list[Duplicate]:
    """The possible duplicates of a logged warrant, as ``user`` may be told about them."""
    sha256s = list(warrant.documents.values_list("sha256", flat=True))
    return find(
        agency=warrant.agency, warrant_number=warrant.warrant_number, sha256s=sha256s, user=user, exclude=warrant
    )


def of_document(document: Document, *, user) -> list[Duplicate]:
    """Other warrants holding the same file as ``document``."""
    return find(agency=document.warrant.agency, sha256s=[document.sha256], user=user, exclude=document.warrant)
