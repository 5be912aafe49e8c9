"""The key store: data keys kept apart from the database, each wrapped under a key-encryption key (KEK).

Every secret that protects stored data is a *data key* here, named by what it protects:

- ``warrant/<reference>/files``   — the warrant's documents, export packages and identity sheets;
- ``warrant/<reference>/pseudonyms`` — the AES-SIV key of the warrant's pseudonyms;
- ``messages/<YYYY-MM-DD>``       — the bodies of the messages sent that day (UTC).

The database holds ciphertext and key *names*, never key material, so a backup of the database alone
reads nothing. Destroying a key in the store makes everything under it unreadable in every copy of
the database and of the media directory: that is how retention deletes a day and how a closed
warrant's pseudonyms become irreversible (crypto-shredding). A destroyed key leaves a *tombstone*
(its name and the time it was destroyed, no key material) so that a refusal can say when.

Backends (``WARRANTDESK_KEYSTORE``):

- ``dir`` (default): one file per key in ``WARRANTDESK_KEYRING_DIR`` (mode 0700; files 0600), written
  atomically. Put it on storage every worker machine reads, never inside the database's backups.
- ``vault``: HashiCorp Vault's KV v2 engine through ``hvac`` (``WARRANTDESK_VAULT_URL``,
  ``WARRANTDESK_VAULT_TOKEN``, ``WARRANTDESK_VAULT_MOUNT``, ``WARRANTDESK_VAULT_PATH``); destroying a
  key deletes all its versions and metadata.

In both, a key is stored wrapped: AES-256-GCM under the newest KEK (``WARRANTDESK_KEK``, first of
the list) with the key's name as associated data, so a wrapped key copied under another name does not
open. ``rewrap`` moves a key to the newest KEK (``manage.py rotate_kek``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.utils.translation import gettext as _

from .exceptions import DomainError

KEY_BYTES = 32
FORMAT = 1
TEMPORARY_PREFIX = ".tmp-"


class KeyUnavailable(DomainError):
    """A data key that cannot be used: never made, destroyed, or wrapped under a KEK we do not have."""

    code = "key_unavailable"
    status_code = 503  # the operator's configuration, not the request, is at fault


class KeyDestroyed(KeyUnavailable):
    code = "key_destroyed"
    status_code = 410  # gone for good (crypto-shredding or retention)

    def __init__(self, name: str, destroyed_at: datetime):
        self.name, self.destroyed_at = name, destroyed_at
        super().__init__(
            _("Irreversible: the key was destroyed on %(date)s.") % {"date": f"{destroyed_at:%Y-%m-%d}"},
            code=self.code,
        )


def warrant_files_key(reference: str) -> str:
    """The key of a warrant's stored files (documents, packages, identity sheets)."""
    return f"warrant/{reference}/files"


def warrant_pseudonyms_key(reference: str) -> str:
    """The key of a warrant's pseudonyms (AES-SIV)."""
    return f"warrant/{reference}/pseudonyms"


def staging_key() -> str:
    """A fresh key for files stored before their warrant exists; re-keyed to the warrant's, then destroyed."""
    return f"staging/{secrets.token_hex(16)}"


def kek_id(kek: bytes) -> str:
    """A public name for a KEK: a short hash (the KEK itself is never written anywhere)."""
    return hashlib.sha256(b"warrantdesk kek id" + kek).hexdigest()[:12]


def keks() -> dict[str, bytes]:
    """{kek id: kek}, newest first (the first wraps new keys; every one unwraps)."""
    found = {kek_id(kek): kek for kek in settings.WARRANTDESK_KEKS}
    if not found:
        raise KeyUnavailable(
            _("No key-encryption key is configured (WARRANTDESK_KEK): stored data can be neither written nor read."),
            code="no_kek",
        )
    return found


def current_kek_id() -> str:
    return next(iter(keks()))


@dataclass(frozen=True)
class Entry:
    """What the store keeps for one name: a wrapped key, or the tombstone of a destroyed one."""

    name: str
    kek_id: str = ""
    wrapped: bytes = b""
    created_at: datetime | None = None
    destroyed_at: datetime | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "name": self.name,
                "kek_id": self.kek_id,
                "wrapped": base64.b64encode(self.wrapped).decode(),
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "destroyed_at": self.destroyed_at.isoformat() if self.destroyed_at else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Entry:
        data = json.loads(text)
        return cls(
            name=data["name"],
            kek_id=data.get("kek_id", ""),
            wrapped=base64.b64decode(data.get("wrapped", "")),
            created_at=datetime.fromisoformat(data["created_at"]) if data.get("created_at") else None,
            destroyed_at=datetime.fromisoformat(data["destroyed_at"]) if data.get("destroyed_at") else None,
        )


class Backend(Protocol):
    """Where entries live. ``add`` fails (False) when the name exists; ``swap`` replaces an entry only
    if it is still ``expected`` (False otherwise): both atomic, so that a rotation never brings back a
    key destroyed meanwhile and two makers of one key end with the same key."""

    def read(self, name: str) -> Entry | None: ...
    def add(self, entry: Entry) -> bool: ...
    def swap(self, expected: Entry, entry: Entry) -> bool: ...
    def names(self, prefix: str = "") -> Iterator[str]: ...


def _check_name(name: str) -> str:
    parts = name.split("/")
    if not name or any(not part or part in {".", ".."} for part in parts) or not name.isascii():
        raise ValueError(f"bad key name {name!r}")
    if any(not (c.isalnum() or c in "-_.") for part in parts for c in part):
        raise ValueError(f"bad key name {name!r}")
    return name


class DirectoryBackend:
    """One JSON file per key under ``root`` (``warrant/WD-2026-0001/files`` -> ``warrant/WD-2026-0001/files.key``)."""

    suffix = ".key"

    def leftovers(self) -> list[str]:
        """The temporary files of writes cut short, relative to the keyring (not keys: ``names``
        skips them; ``destroy`` sweeps those beside the key it destroys)."""
        if not self.root.exists():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob(f"{TEMPORARY_PREFIX}*"))

    def sweep(self, name: str) -> int:
        """Remove the leftovers of writes cut short (a crash between the temporary file and its rename)
        beside ``name``'s file: they may hold a wrapped copy of a key that is being destroyed."""
        removed, stale = 0, time.time() - 60  # not a write in progress beside it
        for leftover in self._path(name).parent.glob(f"{TEMPORARY_PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < stale:
                    leftover.unlink()
                    removed += 1
        return removed

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*_check_name(name).split("/")).with_name(name.rsplit("/", 1)[-1] + self.suffix)

    def _mkdirs(self, path: Path) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def read(self, name: str) -> Entry | None:
        try:
            return Entry.from_json(self._path(name).read_text())
        except FileNotFoundError:
            return None

    def add(self, entry: Entry) -> bool:
        path = self._path(entry.name)
        self._mkdirs(path)
        temporary = self._write_temporary(path, entry)
        try:
            os.link(temporary, path)  # atomic, and fails if the name exists: two makers, one key
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        self._sync_directory(path.parent)
        return True

    def swap(self, expected: Entry, entry: Entry) -> bool:
        path = self._path(entry.name)
        self._mkdirs(path)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.read(entry.name) != expected:
                return False
            os.replace(self._write_temporary(path, entry), path)
            self._sync_directory(path.parent)
            return True

    def names(self, prefix: str = "") -> Iterator[str]:
        # Only the directory the prefix names is walked (a day's keys: one small directory, not the
        # whole keyring, which holds two keys per day of messages).
        base = self.root.joinpath(*prefix.split("/")[:-1]) if "/" in prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob(f"*{self.suffix}")):
            if path.name.startswith(TEMPORARY_PREFIX):  # a write cut short (older layout): not a key
                continue
            name = path.relative_to(self.root).as_posix()[: -len(self.suffix)]
            if name.startswith(prefix):
                yield name

    @staticmethod
    def _write_temporary(path: Path, entry: Entry) -> str:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=".partial")
        with os.fdopen(descriptor, "w") as handle:  # mkstemp: mode 0600
            handle.write(entry.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        return temporary

    @staticmethod
    def _sync_directory(directory: Path) -> None:
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextlib.contextmanager
def _vault_errors() -> Iterator[None]:
    """Vault unreachable, sealed or refusing: KeyUnavailable (503), not an hvac or requests error."""
    import hvac.exceptions
    import requests

    try:
        yield
    except (hvac.exceptions.InvalidPath, hvac.exceptions.InvalidRequest):
        raise  # answers the backend interprets itself
    except (hvac.exceptions.VaultError, requests.RequestException) as exc:
        raise KeyUnavailable(
            _("The key store (Vault) cannot be used right now: %(kind)s.") % {"kind": type(exc).__name__},
            code="keystore_unreachable",
        ) from exc


class VaultBackend:
    """HashiCorp Vault, KV version 2: one secret per key under ``path`` of the ``mount``. Every call
    runs under ``_vault_errors``."""

    def __init__(self, client, *, mount: str, path: str):
        self.client, self.mount, self.path = client, mount, path.strip("/")

    @classmethod
    def from_settings(cls) -> VaultBackend:
        import hvac  # optional: only a deployment that chose Vault installs it

        client = hvac.Client(url=settings.WARRANTDESK_VAULT_URL, token=settings.WARRANTDESK_VAULT_TOKEN)
        return cls(client, mount=settings.WARRANTDESK_VAULT_MOUNT, path=settings.WARRANTDESK_VAULT_PATH)

    def _secret(self, name: str) -> str:
        return f"{self.path}/{_check_name(name)}"

    def _read(self, name: str) -> Entry | None:
        from hvac.exceptions import InvalidPath

        try:
            answer = self.client.secrets.kv.v2.read_secret_version(
                path=self._secret(name), mount_point=self.mount, raise_on_deleted_version=True
            )
        except InvalidPath:
            return None
        return Entry.from_json(answer["data"]["data"]["entry"])

    def _add(self, entry: Entry) -> bool:
        from hvac.exceptions import InvalidRequest

        try:  # check-and-set 0: written only if the secret does not exist yet
            self.client.secrets.kv.v2.create_or_update_secret(
                path=self._secret(entry.name), secret={"entry": entry.to_json()}, cas=0, mount_point=self.mount
            )
        except InvalidRequest:
            return False
        return True

    def _swap(self, expected: Entry, entry: Entry) -> bool:
        from hvac.exceptions import InvalidRequest

        secret = self._secret(entry.name)
        answer = self.client.secrets.kv.v2.read_secret_version(
            path=secret, mount_point=self.mount, raise_on_deleted_version=True
        )
        if Entry.from_json(answer["data"]["data"]["entry"]) != expected:
            return False
        try:  # check-and-set: only over the version just read
            self.client.secrets.kv.v2.create_or_update_secret(
                path=secret,
                secret={"entry": entry.to_json()},
                cas=answer["data"]["metadata"]["version"],
                mount_point=self.mount,
            )
        except InvalidRequest:
            return False
        if entry.destroyed_at is not None:  # keep only the tombstone: no earlier version holds the key
            versions = self.client.secrets.kv.v2.read_secret_metadata(path=secret, mount_point=self.mount)
            old = [int(v) for v in versions["data"]["versions"] if int(v) != versions["data"]["current_version"]]
            if old:
                self.client.secrets.kv.v2.destroy_secret_versions(path=secret, versions=old, mount_point=self.mount)
        return True

    def _names(self, prefix: str = "") -> Iterator[str]:
        from hvac.exceptions import InvalidPath

        pending = [prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""]  # from the prefix's folder down
        while pending:
            folder = pending.pop()
            try:
                answer = self.client.secrets.kv.v2.list_secrets(
                    path=f"{self.path}/{folder}".rstrip("/"), mount_point=self.mount
                )
            except InvalidPath:
                continue
            for key in sorted(answer["data"]["keys"]):
                if key.endswith("/"):
                    pending.append(folder + key)
                elif (folder + key).startswith(prefix):
                    yield folder + key

    def read(self, name: str) -> Entry | None:
        with _vault_errors():
            return self._read(name)

    def add(self, entry: Entry) -> bool:
        with _vault_errors():
            return self._add(entry)

    def swap(self, expected: Entry, entry: Entry) -> bool:
        with _vault_errors():
            return self._swap(expected, entry)

    def names(self, prefix: str = "") -> Iterator[str]:
        with _vault_errors():
            yield from self._names(prefix)


_backend_lock = threading.Lock()
_backend_cache: dict[tuple, Backend] = {}


def backend() -> Backend:
    """The configured backend (one per configuration, so tests that change settings get their own)."""
    kind = settings.WARRANTDESK_KEYSTORE
    config = (kind, str(settings.WARRANTDESK_KEYRING_DIR) if kind == "dir" else settings.WARRANTDESK_VAULT_URL)
    with _backend_lock:
        if config not in _backend_cache:
            if kind == "dir":
                _backend_cache[config] = DirectoryBackend(Path(settings.WARRANTDESK_KEYRING_DIR))
            elif kind == "vault":
                _backend_cache[config] = VaultBackend.from_settings()
            else:
                raise KeyUnavailable(_("Unknown key store %(kind)s (WARRANTDESK_KEYSTORE).") % {"kind": kind})
        return _backend_cache[config]


def _associated_data(name: str) -> bytes:
    return b"warrantdesk data key:" + name.encode()


def _wrap(name: str, key: bytes, kek: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(kek).encrypt(nonce, key, _associated_data(name))


def _unwrap(entry: Entry) -> bytes:
    kek = keks().get(entry.kek_id)
    if kek is None:
        raise KeyUnavailable(
            _("The key-encryption key %(kek)s that wrapped this key is not configured.") % {"kek": entry.kek_id},
            code="kek_missing",
        )
    try:
        return AESGCM(kek).decrypt(
            entry.wrapped[:12], entry.wrapped[12:], b"warrantdesk data key:" + entry.name.encode()
        )
    except InvalidTag as exc:
        raise KeyUnavailable(_("A stored key does not open: it was altered or moved."), code="key_altered") from exc


def get(name: str) -> bytes:
    """The data key ``name``; KeyDestroyed with its date when it was destroyed, KeyUnavailable when it
    was never made or cannot be unwrapped."""
    entry = backend().read(name)
    if entry is None:
        raise KeyUnavailable(_("No such key."), code="no_key")
    if entry.destroyed_at is not None:
        raise KeyDestroyed(name, entry.destroyed_at)
    return _unwrap(entry)


def get_or_create(name: str) -> bytes:
    """The data key ``name``, made now (random, wrapped under the newest KEK) if it does not exist.
    Two processes making the same key at once end with the same key. A destroyed key is not remade."""
    try:
        return get(name)
    except KeyDestroyed:
        raise
    except KeyUnavailable as missing:
        if missing.code != "no_key":
            raise
    kek_name, kek = next(iter(keks().items()))
    key = secrets.token_bytes(KEY_BYTES)
    entry = Entry(name=name, kek_id=kek_name, wrapped=_wrap(name, key, kek), created_at=datetime.now(UTC))
    if backend().add(entry):
        return key
    return get(name)  # another process made it first


def adopt(name: str, key: bytes, *, destroyed_at: datetime | None = None) -> bool:
    """Put an existing key (or, with ``destroyed_at``, the tombstone of one) into the store under
    ``name``, e.g. when keys move here from elsewhere; False if the name is taken."""
    if destroyed_at is not None:
        entry = Entry(name=name, destroyed_at=destroyed_at)
    else:
        kek_name, kek = next(iter(keks().items()))
        entry = Entry(name=name, kek_id=kek_name, wrapped=_wrap(name, key, kek), created_at=datetime.now(UTC))
    return backend().add(entry)


def exists(name: str) -> bool:
    entry = backend().read(name)
    return entry is not None and entry.destroyed_at is None


def destroyed_at(name: str) -> datetime | None:
    """When the key ``name`` was destroyed (None if it is alive or was never made)."""
    entry = backend().read(name)
    return entry.destroyed_at if entry else None


def destroy(name: str) -> datetime | None:
    """Destroy the key ``name`` for good, leaving its tombstone; returns when it was destroyed (the
    earlier time if it already was, None if there was no such key). Idempotent."""
    store = backend()
    while True:
        entry = store.read(name)
        if entry is None:
            return None
        if entry.destroyed_at is not None:
            return entry.destroyed_at
        when = datetime.now(UTC)
        if store.swap(entry, Entry(name=name, created_at=entry.created_at, destroyed_at=when)):
            if isinstance(store, DirectoryBackend):
                store.sweep(name)
            return when


def names(prefix: str = "") -> list[str]:
    return list(backend().names(prefix))


def kek_of(name: str) -> str:
    """The id of the KEK that wraps ``name`` ("" for a tombstone)."""
    entry = backend().read(name)
    return entry.kek_id if entry else ""


def rewrap(name: str) -> bool:
    """Wrap the key ``name`` under the newest KEK; False if it already is (or is a tombstone)."""
    store = backend()
    kek_name, kek = next(iter(keks().items()))
    while True:
        entry = store.read(name)
        if entry is None or entry.destroyed_at is not None or entry.kek_id == kek_name:
            return False
        new = Entry(name=name, kek_id=kek_name, wrapped=_wrap(name, _unwrap(entry), kek), created_at=entry.created_at)
        if store.swap(entry, new):  # not if it was destroyed (or rotated) meanwhile: look again
            return True
