"""Pseudonyms for non-target participants: deterministic encryption under a per-warrant key.

Pure: the standard library and ``cryptography`` only; keys are always arguments.

A pseudonym is ``p1.<key id>.<base32 of AES-SIV(identifier, [context, scope])>``:

- deterministic inside one warrant (same key, same scope), so investigators can follow who said
  what across rooms, exports and follow-ups;
- different across warrants (another key and another scope), so two agencies cannot link people;
- authenticated: a changed token, a token of another warrant or a made-up one fails to decrypt;
- reversible only with the warrant's key; no token-to-identity table is stored anywhere, and
  destroying the key makes every pseudonym of the warrant irreversible (crypto-shredding);
- self-describing, like Django's password hashes, so the format and the keys can rotate.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

VERSION = "p1"
_CONTEXT = b"warrantdesk pseudonym v1"
KEY_BYTES = 64  # AES-SIV with AES-256: two 256-bit keys


class InvalidPseudonym(ValueError):
    """The token is not a pseudonym that this key map can open; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def new_key_id() -> str:
    return secrets.token_hex(4)


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _b32decode(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded)


def pseudonymise(identifier: str, *, scope: str, key_id: str, key: bytes) -> str:
    """The pseudonym of ``identifier`` (an account uid) inside ``scope`` (the warrant reference)."""
    sealed = AESSIV(key).encrypt(identifier.encode(), [_CONTEXT, scope.encode()])
    return f"{VERSION}.{key_id}.{_b32encode(sealed)}"


def reidentify(token: str, *, scope: str, keys: Mapping[str, bytes]) -> str:
    """The identifier behind ``token``; raises InvalidPseudonym with the reason otherwise."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidPseudonym("not a warrantdesk pseudonym (expected p1.<key>.<code>)")
    _version, key_id, body = parts
    key = keys.get(key_id)
    if key is None:
        raise InvalidPseudonym("not made with this warrant's key (another warrant's, or the key was destroyed)")
    try:
        sealed = _b32decode(body)
    except (binascii.Error, ValueError) as exc:
        raise InvalidPseudonym("damaged: the code is not valid base32") from exc
    try:
        return AESSIV(key).decrypt(sealed, [_CONTEXT, scope.encode()]).decode()
    except (InvalidTag, ValueError, UnicodeDecodeError) as exc:
        raise InvalidPseudonym("altered, or made for another warrant: it does not decrypt") from exc


# --- wrapping per-warrant keys under the key-encryption key ----------------------------------------


def wrap_key(key: bytes, *, kek: bytes, associated_data: str) -> bytes:
    """AES-GCM under the KEK with the warrant reference as associated data: nonce || ciphertext."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(kek).encrypt(nonce, key, associated_data.encode())


def unwrap_key(wrapped: bytes, *, kek: bytes, associated_data: str) -> bytes:
    """Raises ``cryptography.exceptions.InvalidTag`` for a wrong KEK or another warrant's key."""
    return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], associated_data.encode())
