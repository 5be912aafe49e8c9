"""Pseudonyms for non-target participants: deterministic encryption under a per-warrant key.

Pure: the standard library and ``cryptography`` only; keys are always arguments.

A pseudonym is ``p1.<key id>.<base32 of AES-SIV(identifier, [context, scope])>``:

- deterministic inside one warrant (same key, same scope), so investigators can follow who said
  what across rooms, exports and follow-ups;
- different across warrants (another key and another scope), so two agencies cannot link people;
- authenticated: a changed token, a token of another warrant or a made-up one fails to decrypt;
- canonical: one identifier has exactly one token. Base32 of a sealed value whose bit length is not a
  multiple of five leaves unused low bits in the last character, and the decoder ignores them (and the
  case of the letters, and "=" padding): "…a" and "…b" may decode to the same bytes. Such variants are
  refused as altered, so that no second spelling of a token decrypts, passes a duplicate check or is
  stored beside the real one;
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
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

VERSION = "p1"
_CONTEXT = b"warrantdesk pseudonym v1"
KEY_BYTES = 64  # AES-SIV with AES-256: two 256-bit keys


class InvalidPseudonym(ValueError):
    """The token is not a pseudonym that this key map can open; ``reason`` says why, ``code`` says
    which of MALFORMED (not p1.<key>.<code>), UNKNOWN_KEY (its key id is not in the key map) or
    ALTERED (the key id is known, but the code is not canonical base32 or does not decrypt).
    ``key_id`` is the key id the token names, when it names one, so that a caller can tell another
    warrant's token from a made-up one."""

    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    ALTERED = "altered"

    def __init__(self, reason: str, *, code: str = ALTERED, key_id: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.key_id = key_id


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
    if len(parts) != 3 or parts[0] != VERSION or not parts[1] or not parts[2]:
        raise InvalidPseudonym(
            "not a warrantdesk pseudonym (expected p1.<key>.<code>)",
            code=InvalidPseudonym.MALFORMED,
            key_id=parts[1] if len(parts) > 1 and parts[0] == VERSION else "",
        )
    _version, key_id, body = parts
    key = keys.get(key_id)
    if key is None:
        raise InvalidPseudonym(
            "not made with this warrant's key (another warrant's, or the key was destroyed)",
            code=InvalidPseudonym.UNKNOWN_KEY,
            key_id=key_id,
        )
    try:
        sealed = _b32decode(body)
    except (binascii.Error, ValueError) as exc:
        raise InvalidPseudonym("damaged: the code is not valid base32", key_id=key_id) from exc
    if _b32encode(sealed) != body:
        # unused bits set in the last character, upper case, padding: another spelling of a token
        raise InvalidPseudonym("altered: the code is not in canonical form", key_id=key_id)
    try:
        return AESSIV(key).decrypt(sealed, [_CONTEXT, scope.encode()]).decode()
    except (InvalidTag, ValueError, UnicodeDecodeError) as exc:
        raise InvalidPseudonym("altered, or made for another warrant: it does not decrypt", key_id=key_id) from exc
