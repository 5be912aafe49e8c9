"""Checks on an uploaded warrant document, by content and never by name."""

import hashlib
import unicodedata
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from warrantdesk.exceptions import DomainError

PDF_MAGIC = b"%PDF-"
# What a wrong file usually is, by its first bytes, to make the refusal useful.
KNOWN_MAGIC = {
    b"PK\x03\x04": "a ZIP archive or Office document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"{\\rtf": "an RTF document",
    b"\xd0\xcf\x11\xe0": "an old Office document",
}


class UploadRejected(DomainError):
    code = "upload_rejected"


@dataclass(frozen=True)
class CheckedUpload:
    display_name: str
    sha256: str
    size: int
    content_type: str = "application/pdf"


def _describe(head: bytes) -> str:
    for magic, description in KNOWN_MAGIC.items():
        if head.startswith(magic):
            return description
    if not head.strip():
        return _("empty")
    try:
        head.decode("utf-8")
        return _("text")
    except UnicodeDecodeError:
        return _("an unknown binary format")


def _invisible(char: str) -> bool:
    """Control and format characters: bidirectional overrides and isolates (U+202A-E, U+2066-9), marks
    (U+200E/F), zero-width characters, line separators. Shown, they reorder or hide what a name says
    ("warrant", U+202E, "fdp.exe" reads as "warrantexe.pdf")."""
    return unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}


def _visible(raw: str) -> str:
    return "".join(f"[U+{ord(char):04X}]" if _invisible(char) else char for char in raw)[:160]


def check_display_name(raw: str) -> str:
    """The client's file name is only ever shown, never used as a path; refuse path-like names and
    names with invisible characters that disguise them."""
    if "/" in raw or "\\" in raw or raw.strip() in {"", ".", ".."} or any(ord(char) < 32 for char in raw):
        raise UploadRejected(
            _("The file name “%(name)s” contains a path or control characters. Rename the file and upload it again.")
            % {"name": "".join(char if ord(char) >= 32 else "?" for char in raw)[:120]},
            code="unsafe_file_name",
        )
    if any(_invisible(char) for char in raw):
        raise UploadRejected(
            _(
                "The file name “%(name)s” contains invisible characters (such as right-to-left overrides) that "
                "can disguise what the file is. Rename the file and upload it again."
            )
            % {"name": _visible(raw)},
            code="unsafe_file_name",
        )
    return raw.strip()[:255]


def check_pdf_upload(upload: UploadedFile, *, max_bytes: int) -> CheckedUpload:
    name = check_display_name(getattr(upload, "client_name", None) or upload.name or "")
    if upload.size is not None and upload.size > max_bytes:
        raise UploadRejected(
            _("The file is %(size)s bytes; the limit is %(limit)d MB (%(limit_bytes)s bytes).")
            % {"size": f"{upload.size:,}", "limit": max_bytes // 1_048_576, "limit_bytes": f"{max_bytes:,}"},
            code="too_large",
        )
    upload.seek(0)
    head = upload.read(1024)
    # PDF readers accept the header anywhere in the first 1024 bytes; so do we.
    if PDF_MAGIC not in head:
        raise UploadRejected(
            _("“%(name)s” is not a PDF: its content looks like %(kind)s. Only PDF documents are accepted.")
            % {"name": name, "kind": _describe(head[:64])},
            code="not_pdf",
        )
    digest = hashlib.sha256(head)
    size = len(head)
    for chunk in iter(lambda: upload.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise UploadRejected(
                _("The file is larger than the limit of %(limit)d MB.") % {"limit": max_bytes // 1_048_576},
                code="too_large",
            )
    upload.seek(0)
    return CheckedUpload(display_name=name, sha256=digest.hexdigest(), size=size)


MAX_SIGNATURE_BYTES = 1024 * 1024


def check_signature_upload(upload: UploadedFile) -> str:
    """A detached signature is stored as sent (size-limited) and judged by the signature check,
    which records a malformed one with its reason; returns its SHA-256."""
    name = check_display_name(getattr(upload, "client_name", None) or upload.name or "")
    if upload.size is not None and upload.size > MAX_SIGNATURE_BYTES:
        raise UploadRejected(_("The signature file “%(name)s” is larger than 1 MB.") % {"name": name}, code="too_large")
    upload.seek(0)
    data = upload.read(MAX_SIGNATURE_BYTES + 1)
    upload.seek(0)
    if not data:
        raise UploadRejected(_("The signature file “%(name)s” is empty.") % {"name": name}, code="empty_signature")
    return hashlib.sha256(data).hexdigest()
