"""The key store: data keys apart from the database, wrapped under the KEK, destroyed for good."""

import multiprocessing
import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings

from tests.conftest import TEST_KEK, TEST_OLD_KEK
from warrantdesk import keystore

NEW_KEK = bytes(range(100, 132))


def test_a_key_is_made_once_and_read_back(settings):
    key = keystore.get_or_create("warrant/WD-1/files")
    assert len(key) == 32
    assert keystore.get_or_create("warrant/WD-1/files") == key
    assert keystore.get("warrant/WD-1/files") == key
    assert keystore.get_or_create("warrant/WD-2/files") != key
    assert keystore.names("warrant/") == ["warrant/WD-1/files", "warrant/WD-2/files"]


def test_the_keyring_is_private_and_holds_no_key_in_clear(settings):
    key = keystore.get_or_create("messages/2026-12-01")
    root = settings.WARRANTDESK_KEYRING_DIR
    path = root / "messages" / "2026-12-01.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "messages").stat().st_mode) == 0o700
    raw = path.read_bytes()
    assert key not in raw and key.hex().encode() not in raw
    assert not [p for p in root.rglob("*") if p.name.startswith(".tmp-")], "no temporary file is left behind"


def test_an_unknown_key_is_refused(settings):
    with pytest.raises(keystore.KeyUnavailable) as refusal:
        keystore.get("warrant/WD-9/files")
    assert refusal.value.code == "no_key"


@pytest.mark.parametrize("name", ["", "../x", "a//b", "a/./b", "a/../../etc", "a b", "키/x", "/abs"])
def test_names_that_could_leave_the_keyring_are_refused(settings, name):
    with pytest.raises(ValueError, match="bad key name"):
        keystore.get_or_create(name)


def test_a_wrapped_key_copied_under_another_name_does_not_open(settings):
    keystore.get_or_create("warrant/WD-1/pseudonyms")
    keystore.get_or_create("warrant/WD-2/pseudonyms")
    root = settings.WARRANTDESK_KEYRING_DIR / "warrant"
    text = (
        (root / "WD-1" / "pseudonyms.key").read_text().replace('"warrant/WD-1/pseudonyms"', '"warrant/WD-2/pseudonyms"')
    )
    (root / "WD-2" / "pseudonyms.key").write_text(text)
    with pytest.raises(keystore.KeyUnavailable) as refusal:
        keystore.get("warrant/WD-2/pseudonyms")
    assert refusal.value.code == "key_altered"


def test_a_destroyed_key_leaves_a_dated_tombstone_and_is_never_remade(settings):
    key = keystore.get_or_create("messages/2026-11-30")
    when = keystore.destroy("messages/2026-11-30")
    assert when is not None
    assert keystore.destroy("messages/2026-11-30") == when, "destroying twice changes nothing"
    with pytest.raises(keystore.KeyDestroyed) as refusal:
        keystore.get("messages/2026-11-30")
    assert f"{when:%Y-%m-%d}" in refusal.value.message
    with pytest.raises(keystore.KeyDestroyed):
        keystore.get_or_create("messages/2026-11-30")
    assert keystore.destroyed_at("messages/2026-11-30") == when
    assert not keystore.exists("messages/2026-11-30")
    raw = b"".join(p.read_bytes() for p in settings.WARRANTDESK_KEYRING_DIR.rglob("*") if p.is_file())
    assert key not in raw
    assert b'"wrapped": ""' in raw
    assert keystore.destroy("messages/1999-01-01") is None


def test_rewrap_moves_keys_to_the_newest_kek_and_the_old_one_can_go(settings):
    settings.WARRANTDESK_KEKS = [TEST_KEK, TEST_OLD_KEK]
    keys = {name: keystore.get_or_create(name) for name in ("a/1", "a/2", "a/3")}
    keystore.destroy("a/3")
    settings.WARRANTDESK_KEKS = [NEW_KEK, TEST_KEK]
    assert {name: keystore.kek_of(name) for name in keys} == {
        "a/1": keystore.kek_id(TEST_KEK),
        "a/2": keystore.kek_id(TEST_KEK),
        "a/3": "",
    }
    assert keystore.rewrap("a/1") is True
    assert keystore.rewrap("a/1") is False, "already under the newest KEK"
    assert keystore.rewrap("a/3") is False, "a tombstone has nothing to rewrap"
    settings.WARRANTDESK_KEKS = [NEW_KEK]
    assert keystore.get("a/1") == keys["a/1"]
    with pytest.raises(keystore.KeyUnavailable) as refusal:
        keystore.get("a/2")  # still under the KEK just removed
    assert refusal.value.code == "kek_missing"


def test_a_rewrap_racing_a_destroy_never_brings_the_key_back(settings, monkeypatch):
    keystore.get_or_create("a/1")
    settings.WARRANTDESK_KEKS = [NEW_KEK, TEST_KEK]
    store = keystore.backend()
    real_read = store.read
    calls = []

    def read_then_destroy(name):
        entry = real_read(name)
        if not calls:  # the rotation has read the live key; now the purge destroys it
            calls.append(name)
            keystore.destroy(name)
        return entry

    monkeypatch.setattr(store, "read", read_then_destroy)
    assert keystore.rewrap("a/1") is False
    monkeypatch.undo()
    with pytest.raises(keystore.KeyDestroyed):
        keystore.get("a/1")


def test_without_a_kek_nothing_is_made(settings):
    settings.WARRANTDESK_KEKS = []
    with pytest.raises(keystore.KeyUnavailable) as refusal:
        keystore.get_or_create("a/1")
    assert refusal.value.code == "no_kek"


def _make(args):
    directory, name = args
    django_settings.WARRANTDESK_KEYRING_DIR = directory
    return keystore.get_or_create(name)


def test_two_processes_making_one_key_get_the_same_key(settings, tmp_path):
    directory = tmp_path / "shared-keyring"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        made = pool.map(_make, [(directory, "messages/2026-12-02")] * 16)
    assert len(set(made)) == 1
    settings.WARRANTDESK_KEYRING_DIR = directory
    assert keystore.get("messages/2026-12-02") == made[0]


def test_threads_making_many_keys_at_once_lose_none(settings):
    names = [f"messages/2026-01-{day:02d}" for day in range(1, 29)]
    with ThreadPoolExecutor(8) as pool:
        first = dict(zip(names, pool.map(keystore.get_or_create, names), strict=True))
        second = dict(zip(names, pool.map(keystore.get_or_create, names), strict=True))
    assert first == second
    assert keystore.names("messages/") == names


# --- the Vault backend (KV v2 through hvac), against an in-memory double of hvac's client ---------------


class FakeKV2:
    """hvac's ``client.secrets.kv.v2`` as Vault answers it: versions, check-and-set, destroy."""

    def __init__(self):
        self.secrets: dict[str, list] = {}

    def read_secret_version(self, path, mount_point, raise_on_deleted_version):
        from hvac.exceptions import InvalidPath

        versions = self.secrets.get(f"{mount_point}/{path}")
        if not versions or versions[-1] is None:
            raise InvalidPath()
        return {"data": {"data": versions[-1], "metadata": {"version": len(versions)}}}

    def create_or_update_secret(self, path, secret, mount_point, cas=None):
        from hvac.exceptions import InvalidRequest

        versions = self.secrets.setdefault(f"{mount_point}/{path}", [])
        if cas is not None and cas != len(versions):
            raise InvalidRequest("check-and-set parameter did not match the current version")
        versions.append(dict(secret))

    def read_secret_metadata(self, path, mount_point):
        versions = self.secrets[f"{mount_point}/{path}"]
        return {"data": {"current_version": len(versions), "versions": {str(i + 1): {} for i in range(len(versions))}}}

    def destroy_secret_versions(self, path, versions, mount_point):
        stored = self.secrets[f"{mount_point}/{path}"]
        for version in versions:
            stored[version - 1] = {"destroyed": True}

    def list_secrets(self, path, mount_point):
        from hvac.exceptions import InvalidPath

        prefix = f"{mount_point}/{path}/"
        keys = set()
        for secret in self.secrets:
            if secret.startswith(prefix):
                rest = secret[len(prefix) :]
                keys.add(rest.split("/", 1)[0] + "/" if "/" in rest else rest)
        if not keys:
            raise InvalidPath()
        return {"data": {"keys": sorted(keys)}}


class FakeClient:
    def __init__(self):
        self.secrets = type("Secrets", (), {})()
        self.secrets.kv = type("KV", (), {})()
        self.secrets.kv.v2 = FakeKV2()


def test_the_vault_backend_keeps_wraps_and_destroys_every_version(settings, monkeypatch):
    client = FakeClient()
    vault = keystore.VaultBackend(client, mount="secret", path="warrantdesk")
    monkeypatch.setattr(keystore, "backend", lambda: vault)
    key = keystore.get_or_create("warrant/WD-1/files")
    assert keystore.get_or_create("warrant/WD-1/files") == key
    settings.WARRANTDESK_KEKS = [NEW_KEK, TEST_KEK]
    assert keystore.rewrap("warrant/WD-1/files")
    assert keystore.names() == ["warrant/WD-1/files"]
    keystore.destroy("warrant/WD-1/files")
    with pytest.raises(keystore.KeyDestroyed):
        keystore.get("warrant/WD-1/files")
    stored = repr(client.secrets.kv.v2.secrets)
    assert '"wrapped": ""' in stored
    # No version of the secret still holds a wrapped key: only the tombstone is left.
    versions = client.secrets.kv.v2.secrets["secret/warrantdesk/warrant/WD-1/files"]
    assert [v for v in versions if '"wrapped": ""' not in repr(v) and v != {"destroyed": True}] == []


def test_keys_never_reach_the_process_environment_or_the_settings(settings):
    key = keystore.get_or_create("a/1")
    assert key.hex() not in repr(os.environ)
    assert not any(key == value for value in vars(django_settings._wrapped).values())


def test_leftovers_of_a_cut_short_write_are_no_key_and_go_when_the_key_is_destroyed(settings):
    key = keystore.get_or_create("warrant/WD-3/files")
    folder = settings.WARRANTDESK_KEYRING_DIR / "warrant" / "WD-3"
    leftover = folder / f"{keystore.TEMPORARY_PREFIX}abc.partial"
    leftover.write_text((folder / "files.key").read_text())  # a wrapped copy, as a crash would leave
    old = folder / f"{keystore.TEMPORARY_PREFIX}def.key"  # the layout of earlier versions
    old.write_text((folder / "files.key").read_text())
    for path in (leftover, old):
        os.utime(path, (0, 0))
    in_progress = folder / f"{keystore.TEMPORARY_PREFIX}ghi.partial"
    in_progress.write_text("being written now")
    assert keystore.names("warrant/") == ["warrant/WD-3/files"]
    keystore.destroy("warrant/WD-3/files")
    assert not leftover.exists() and not old.exists()
    assert in_progress.exists(), "a write in progress beside it is left alone"
    raw = b"".join(p.read_bytes() for p in settings.WARRANTDESK_KEYRING_DIR.rglob("*") if p.is_file())
    assert key not in raw


def test_an_unreachable_vault_is_a_clear_refusal_not_a_crash(settings, monkeypatch):
    import requests
    from hvac.exceptions import Forbidden

    class Down(FakeKV2):
        def read_secret_version(self, **kwargs):
            raise requests.ConnectionError("connection refused")

    class Refusing(FakeKV2):
        def read_secret_version(self, **kwargs):
            raise Forbidden("permission denied")

    for kv in (Down(), Refusing()):
        client = FakeClient()
        client.secrets.kv.v2 = kv
        vault = keystore.VaultBackend(client, mount="secret", path="warrantdesk")
        monkeypatch.setattr(keystore, "backend", lambda vault=vault: vault)
        with pytest.raises(keystore.KeyUnavailable) as refusal:
            keystore.get("warrant/WD-1/files")
        assert refusal.value.code == "keystore_unreachable"
        assert refusal.value.status_code == 503
