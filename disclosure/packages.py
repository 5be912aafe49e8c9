"""Reading a stored package (conversations package or identity sheet): the one way in.

Packages are stored sealed under their warrant's files key (``warrant/<reference>/files``,
``warrantdesk.sealed``); every reader (downloads, the one-time link, the alias table, the identity
sheet, ``export_warrant``, tests) opens them here, so that a purged package, a destroyed key and an
altered file each get their own clear refusal instead of an ``OSError`` or a ZIP error.
"""

from __future__ import annotations

from typing import BinaryIO

from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from warrantdesk import sealed
from warrantdesk.exceptions import Conflict, DomainError

from .models import Export


class PackagePurged(DomainError):
    """The package's file was deleted by package expiry; its manifest and hashes are kept."""

    code = "package_purged"
    status_code = 410

    def __init__(self, export: Export):
        self.purged_at = export.purged_at
        super().__init__(
            _(
                "This package was purged on %(date)s (packages are deleted some time after delivery); "
                "its manifest is kept."
            )
            % {"date": f"{export.purged_at:%Y-%m-%d}"},
            code=self.code,
        )


def package_open(export: Export, *, verify: bool = False) -> BinaryIO:
    """The plaintext of ``export``'s package, streaming and seekable (no permission check: callers
    check). ``verify``: every chunk is authenticated first, so that a download refuses a damaged
    file before its first byte. Raises ``PackagePurged`` (410), ``keystore.KeyDestroyed`` (410) once
    the warrant's keys were destroyed, ``sealed.SealedFileError`` (409) when the file was altered,
    ``Conflict`` when there is no package (yet)."""
    if export.purged_at is not None:
        raise PackagePurged(export)
    name = export.package.name  # the file's name, "" or None when there is none
    if export.status != Export.Status.READY or not name:
        raise Conflict(_("This package is not available."), code="not_available")
    return sealed.open_stored(default_storage, name, verify=verify)


def package_bytes(export: Export) -> bytes:
    """The whole plaintext package (small packages and tests only)."""
    with package_open(export) as handle:
        return handle.read()
