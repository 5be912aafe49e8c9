"""The operator's signing keys over time: the current one and the retired ones.

The operator's Ed25519 key (``WARRANTDESK_SIGNING_KEY``) signs export manifests, identity sheets, the
audit log's checkpoints and published transparency reports. When it is replaced, what it signed must
still verify: the public halves of the keys it replaced are configured apart, in
``WARRANTDESK_RETIRED_SIGNING_KEYS`` (or ``_FILE``), never taken from the signed thing itself.

Signing always uses the current key alone. Verification accepts the current key or a retired one,
picked by what is recorded with the signature (a note's key id, a report's or a package's key
fingerprint), else each in turn; a signature by any other key fails as before.

The setting holds PEM public keys (``openssl pkey -pubout``), each optionally after a line
``Retired: YYYY-MM-DD``; other text outside the PEM blocks is explanatory (RFC 7468) and ignored. A
private key there is refused (ImproperlyConfigured at start): the file is public material.

No models here: ``settings.py`` calls ``parse_retired`` to refuse a bad file before anything starts.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .verify_checkpoint import format_fingerprint, key_fingerprint

SETTING = "WARRANTDESK_RETIRED_SIGNING_KEYS"

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_RETIRED_LINE = re.compile(r"^[ \t]*Retired:(.*)$", re.IGNORECASE | re.MULTILINE)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class OperatorKey:
    """A public key of the operator: the current one (``current``) or a retired one (``retired_on``,
    the date it was retired when the configuration says so)."""

    public_key: Ed25519PublicKey
    fingerprint: str  # SHA-256 of the DER SubjectPublicKeyInfo, 64 hex digits
    current: bool = False
    retired_on: dt.date | None = None

    @classmethod
    def of(cls, key: Ed25519PublicKey, *, current: bool = False, retired_on: dt.date | None = None) -> OperatorKey:
        return cls(key, key_fingerprint(key), current=current, retired_on=retired_on)

    @property
    def pem(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def fingerprint_grouped(self) -> str:
        return format_fingerprint(self.fingerprint)

    @property
    def state(self) -> str:
        """Whether it is the current key or a retired one (since when), as command output says it."""
        if self.current:
            return "the current key"
        if self.retired_on:
            return f"a retired key, retired on {self.retired_on.isoformat()}"
        return "a retired key"

    def describe(self) -> str:
        """How command output names the key: its fingerprint and its state."""
        return f"SHA-256 {self.fingerprint_grouped} ({self.state})"


def parse_retired(text: str) -> list[OperatorKey]:
    """The retired keys in ``text`` (the setting's value), in their order, each once. Raises ValueError,
    whose message never repeats the file's content, when the text holds a private key, anything but
    Ed25519 public keys, an unclosed PEM block or a ``Retired:`` line without a date."""
    if not text.strip():
        return []
    if "PRIVATE KEY" in text:
        raise ValueError(
            "holds a private key; it takes public keys only (openssl pkey -pubout -in OLD-KEY.pem): "
            "remove the private key from it"
        )
    blocks = list(_BLOCK.finditer(text))
    if text.count("-----BEGIN ") != len(blocks):
        raise ValueError("a PEM block has no matching -----END line")
    if not blocks:
        raise ValueError("holds no PEM public key (-----BEGIN PUBLIC KEY-----)")
    keys: dict[str, OperatorKey] = {}
    before = 0
    for number, block in enumerate(blocks, start=1):
        retired_on = _retired_date(text[before : block.start()], number)
        before = block.end()
        if block.group(1) != "PUBLIC KEY":
            raise ValueError(f"key {number} is a {block.group(1)}, not a PUBLIC KEY")
        try:
            key = serialization.load_pem_public_key(block.group(0).encode())
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"key {number} is not a readable PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"key {number} is not an Ed25519 key")
        found = OperatorKey.of(key, retired_on=retired_on)
        keys.setdefault(found.fingerprint, found)
    if _RETIRED_LINE.search(text[before:]):
        raise ValueError("a 'Retired:' line after the last key belongs to no key (put it before the key)")
    return list(keys.values())


def _retired_date(text: str, number: int) -> dt.date | None:
    lines = _RETIRED_LINE.findall(text)
    if not lines:
        return None
    value = lines[-1].strip()
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"the 'Retired:' line before key {number} needs a date, YYYY-MM-DD") from None


@functools.lru_cache(maxsize=4)
def _parsed(text: str) -> tuple[OperatorKey, ...]:
    return tuple(parse_retired(text))


def retired_keys() -> list[OperatorKey]:
    """The retired keys configured now. Settings refuse a bad value at start; a value changed later
    (tests) and bad is ImproperlyConfigured here."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return list(_parsed(getattr(settings, SETTING, "") or ""))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{SETTING}: {exc}") from exc


def keyring(current: Ed25519PublicKey | None, retired: Iterable[OperatorKey] | None = None) -> list[OperatorKey]:
    """The keys that verify the operator's signatures: the current one first (when there is one), then
    the retired ones; a retired entry that is the current key counts as current only."""
    keys = [OperatorKey.of(current, current=True)] if current is not None else []
    current_fingerprint = keys[0].fingerprint if keys else None
    keys += [key for key in (retired_keys() if retired is None else retired) if key.fingerprint != current_fingerprint]
    return keys


def candidates(keys: Sequence[OperatorKey], fingerprint: str | None) -> list[OperatorKey]:
    """The keys to try for a signature: the one whose fingerprint is recorded with it when one is
    recorded (none when no known key has it: a signature by an unknown key fails), else each in turn."""
    if fingerprint:
        return [key for key in keys if key.fingerprint == fingerprint.lower()]
    return list(keys)


def find(keys: Sequence[OperatorKey], fingerprint: str) -> OperatorKey | None:
    return next((key for key in keys if key.fingerprint == fingerprint.lower()), None)


_FINGERPRINT_SEPARATORS = re.compile(r"[\s:\-]")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def lookup(keys: Sequence[OperatorKey], text: str) -> OperatorKey | None:
    """The key named by a fingerprint as people copy it (any case, spaces, colons or hyphens between the
    digits), or None when it names none of ``keys``."""
    digits = _FINGERPRINT_SEPARATORS.sub("", text).lower()
    return find(keys, digits) if _HEX64.fullmatch(digits) else None
