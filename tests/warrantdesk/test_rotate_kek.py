"""`manage.py rotate_kek`: every data key moves to the newest KEK, resumably; then the old KEK can go.

The acceptance test runs the real command in a subprocess over a key store made by the services
(warrants with their documents and pseudonym keys, an export package, message day keys from an
import and from the generator), kills it with SIGKILL partway, runs it again to completion, and then
reads everything with the new KEK alone.

Killing "partway" is made deterministic without a sleep in the product: the subprocess is a small
wrapper (ROTATE_SCRIPT) that wraps ``keystore.rewrap`` (or the directory backend's temporary-file
write) to stop for good after the Nth key and say so in a file; the test then sends SIGKILL.
"""

import base64
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from demo.generator import generate
from disclosure import keys as case_keys_module
from disclosure import pseudonyms
from disclosure.models import Export, Message
from requests_app import services as warrant_services
from requests_app.models import Document
from requests_app.services import TargetInput
from tests.conftest import TEST_KEK, TEST_OLD_KEK, TEST_SIGNING_KEY_PEM
from tests.factories import pdf_bytes, warrant_fields
from tests.helpers import run_export, verify_signature
from warrantdesk import keystore, sealed
from warrantdesk.models import AuditAction, AuditEntry

NEW_KEK = bytes(range(200, 232))
ROOT = Path(django_settings.BASE_DIR)
CHAT = ROOT / "tests" / "disclosure" / "fixtures" / "ios_ko.txt"
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

ROTATE_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading
    from pathlib import Path

    import django

    django.setup()
    from django.core.management import execute_from_command_line

    from warrantdesk import keystore

    # Test harness only: stop for good after the Nth key and say so in a file (the test then kills us).
    flag, stop_after, where = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    count = [0]

    def pause_here(name):
        count[0] += 1
        if count[0] == stop_after:
            flag.write_text(name)
            threading.Event().wait()

    if where == "between-keys":  # after the Nth key was re-wrapped and written
        real_rewrap = keystore.rewrap

        def rewrap(name):
            done = real_rewrap(name)
            if done:
                pause_here(name)
            return done

        keystore.rewrap = rewrap
    elif where == "mid-write":  # the Nth re-wrapped key written to a temporary file, not yet in place
        real_write = keystore.DirectoryBackend._write_temporary

        def write_temporary(path, entry):
            temporary = real_write(path, entry)
            pause_here(entry.name)
            return temporary

        keystore.DirectoryBackend._write_temporary = staticmethod(write_temporary)

    execute_from_command_line(["manage.py", "rotate_kek", *sys.argv[4:]])
    """
)


def b64(*keks: bytes) -> str:
    return ",".join(base64.b64encode(kek).decode() for kek in keks)


def database_url() -> str:
    """The URL of the test database itself, for the command in a subprocess."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def command_env(settings, tmp_path, *keks: bytes) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARRANTDESK_") and k != "DATABASE_URL"}
    return env | {
        "DJANGO_SETTINGS_MODULE": "warrantdesk.settings",
        "DATABASE_URL": database_url(),
        "WARRANTDESK_VAR_DIR": str(tmp_path / "var"),
        "WARRANTDESK_KEYSTORE": "dir",
        "WARRANTDESK_KEYRING_DIR": str(settings.WARRANTDESK_KEYRING_DIR),
        "WARRANTDESK_KEK": b64(*keks),
        "WARRANTDESK_SIGNING_KEY": TEST_SIGNING_KEY_PEM,
        "MAIL_BACKEND": "console",
    }


def rotate_in_subprocess(env, tmp_path, *args, kill_after: int = 0, where: str = "between-keys"):
    """Run rotate_kek in a subprocess; with ``kill_after``, SIGKILL it once it has reached that key."""
    flag = tmp_path / f"paused-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [sys.executable, "-c", ROTATE_SCRIPT, str(flag), str(kill_after), where, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if kill_after:
            deadline = time.monotonic() + 120
            while not flag.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert flag.exists(), process.communicate(timeout=30)
            process.send_signal(signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def rotate(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_kek", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def keyring_snapshot(settings) -> dict[str, bytes]:
    root = Path(settings.WARRANTDESK_KEYRING_DIR)
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def leftovers() -> list[str]:
    """The directory backend's temporary files of a write cut short (on disk; ``names`` skips them)."""
    assert not [name for name in keystore.names() if name.rsplit("/", 1)[-1].startswith(".tmp-")]
    return keystore.backend().leftovers()


def under_each_kek() -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in sorted(keystore.names()):
        entry = keystore.backend().read(name)
        if entry is not None and entry.destroyed_at is None:
            counts[entry.kek_id] = counts.get(entry.kek_id, 0) + 1
    return counts


def make_world(settings, legal_officer, reviewer, agency) -> dict:
    """A key store as production makes it, under two older KEKs: message day keys (generated store
    and a chat import) under TEST_OLD_KEK; warrants (document, pseudonym key, one export package)
    under TEST_KEK; one warrant crypto-shredded (tombstones); the staging keys' tombstones."""
    settings.WARRANTDESK_KEKS = [TEST_OLD_KEK, TEST_KEK]
    generate(accounts=20, rooms=4, messages=300, seed=5, start=START, days=45)
    call_command("import_chat", str(CHAT), "--room", "rotation-room", stdout=io.StringIO(), stderr=io.StringIO())

    settings.WARRANTDESK_KEKS = [TEST_KEK, TEST_OLD_KEK]
    world: dict = {"warrants": [], "documents": {}, "tokens": {}}
    uids = list(Message.objects.values_list("sender__uid", flat=True).distinct()[:6])
    for number in range(6):
        content = pdf_bytes(f"rotation warrant {number}")
        warrant = warrant_services.warrant_register(
            actor=legal_officer,
            targets=[TargetInput("UID", uids[number])],
            upload=_upload(content),
            **warrant_fields(agency, period_start=START, period_end=START + dt.timedelta(days=45)),
        )
        warrant_services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
        key_id, key = case_keys_module.case_key(warrant, create=True)  # the export key
        world["tokens"][warrant.pk] = (
            uids[number],
            pseudonyms.pseudonymise(uids[number], scope=warrant.reference, key_id=key_id, key=key),
        )
        world["documents"][warrant.pk] = content
        world["warrants"].append(warrant)

    exported = world["warrants"][0]
    verify_signature(exported, actor=legal_officer)
    exported = warrant_services.warrant_approve(warrant=exported, actor=reviewer)
    export = run_export(exported, legal_officer)
    assert export.status == Export.Status.READY and export.package.name
    with sealed.open_stored(default_storage, export.package.name) as handle:
        world["package"] = (export.pk, handle.read())

    shredded = world["warrants"][-1]
    case_keys_module.case_key_destroy(warrant=shredded, actor=None)
    world["shredded"] = shredded
    world["bodies"] = {message.pk: message.body for message in Message.objects.order_by("sent_at", "pk")}
    return world


def _upload(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("warrant.pdf", content, "application/pdf")


def assert_everything_reads_with_the_new_kek_alone(settings, world) -> None:
    settings.WARRANTDESK_KEKS = [NEW_KEK]
    live = [warrant for warrant in world["warrants"] if warrant.pk != world["shredded"].pk]
    for warrant in live:
        for document in Document.objects.filter(warrant=warrant):
            with warrant_services.document_file(document, verify=True) as handle:
                assert handle.read() == world["documents"][warrant.pk]
        uid, token = world["tokens"][warrant.pk]
        assert pseudonyms.reidentify(token, scope=warrant.reference, keys=case_keys_module.case_keys(warrant)) == uid
    export_pk, package = world["package"]
    stored_name = Export.objects.get(pk=export_pk).package.name
    assert stored_name
    with sealed.open_stored(default_storage, stored_name, verify=True) as handle:
        assert handle.read() == package
    bodies = {message.pk: message.body for message in Message.objects.order_by("sent_at", "pk")}
    assert bodies == world["bodies"]
    assert len({message.sent_at.date() for message in Message.objects.all()}) > 20  # many day keys
    # the shredded warrant stays shredded: its tombstones were skipped, never revived
    with pytest.raises(keystore.KeyDestroyed):
        case_keys_module.case_key(world["shredded"])
    for document in Document.objects.filter(warrant=world["shredded"]):
        with pytest.raises(keystore.KeyDestroyed):
            warrant_services.document_file(document)
    assert under_each_kek() == {keystore.kek_id(NEW_KEK): len(keystore.names()) - tombstones()}


def tombstones() -> int:
    return sum(1 for name in keystore.names() if keystore.destroyed_at(name) is not None)


@pytest.mark.parametrize("where", ["between-keys", "mid-write"])
@pytest.mark.django_db(transaction=True)
def test_rotate_kek_killed_halfway_and_resumed_leaves_every_warrant_readable_with_the_new_kek_alone(
    settings, tmp_path, legal_officer, reviewer, agency, where
):
    world = make_world(settings, legal_officer, reviewer, agency)
    before = under_each_kek()
    assert set(before) == {keystore.kek_id(TEST_OLD_KEK), keystore.kek_id(TEST_KEK)}
    total = sum(before.values())
    assert total >= 45, before  # many keys: day keys, fingerprint keys, warrant files and pseudonym keys
    shredded_tombstones = {
        name: keystore.backend().read(name) for name in keystore.names(f"warrant/{world['shredded'].reference}/")
    }
    env = command_env(settings, tmp_path, NEW_KEK, TEST_KEK, TEST_OLD_KEK)

    killed = rotate_in_subprocess(env, tmp_path, "--batch-size", "7", kill_after=total // 2, where=where)

    assert killed.returncode == -signal.SIGKILL
    settings.WARRANTDESK_KEKS = [NEW_KEK, TEST_KEK, TEST_OLD_KEK]
    halfway = under_each_kek()
    moved = total // 2 if where == "between-keys" else total // 2 - 1  # mid-write: the Nth not yet in place
    assert halfway.get(keystore.kek_id(NEW_KEK)) == moved
    assert sum(halfway.values()) == total

    resumed = rotate_in_subprocess(env, tmp_path, "--verbose", "--progress")

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Re-wrapped {total - moved} keys under {keystore.kek_id(NEW_KEK)}" in resumed.stdout
    assert f"Already under it: {moved}." in resumed.stdout
    assert "can now be removed from WARRANTDESK_KEK" in resumed.stdout
    assert "keys, " in resumed.stderr  # the progress bar
    if where == "mid-write":  # the write cut short left its temporary file: named, not taken for a key
        assert len(leftovers()) == 1
        assert "1 leftover temporary file(s)" in resumed.stdout
    else:
        assert not leftovers()
    for name, tombstone in shredded_tombstones.items():
        assert keystore.backend().read(name) == tombstone
    audited = AuditEntry.objects.filter(action=AuditAction.KEYS_ROTATED).get()  # the killed run audited nothing
    old_keks = (keystore.kek_id(TEST_KEK), keystore.kek_id(TEST_OLD_KEK))
    assert audited.details["rewrapped"] == {kek: halfway[kek] for kek in old_keks if halfway.get(kek)}
    assert audited.details["destroyed_skipped"] == tombstones() > 0
    assert audited.details["interrupted"] is False

    assert_everything_reads_with_the_new_kek_alone(settings, world)


# --- the command in-process: dry run, tombstones, nothing to do, interruption, refusals ------------


def small_store(settings) -> dict[str, bytes]:
    """Six keys: two under TEST_OLD_KEK, three under TEST_KEK, one destroyed."""
    settings.WARRANTDESK_KEKS = [TEST_OLD_KEK]
    made = {name: keystore.get_or_create(name) for name in ("messages/2026-01-01/1", "messages/2026-01-02/1")}
    settings.WARRANTDESK_KEKS = [TEST_KEK]
    for name in ("warrant/WD-2026-000001/files", "warrant/WD-2026-000001/pseudonyms", "warrant/WD-2026-000002/files"):
        made[name] = keystore.get_or_create(name)
    keystore.get_or_create("warrant/WD-2026-000002/pseudonyms")
    keystore.destroy("warrant/WD-2026-000002/pseudonyms")
    settings.WARRANTDESK_KEKS = [NEW_KEK, TEST_KEK, TEST_OLD_KEK]
    return made


def test_a_dry_run_reports_per_kek_and_changes_nothing(settings, db):
    small_store(settings)
    before = keyring_snapshot(settings)

    out, _err = rotate("--dry-run", "--verbose")

    assert keyring_snapshot(settings) == before
    assert not AuditEntry.objects.filter(action=AuditAction.KEYS_ROTATED).exists()
    assert f"still under {keystore.kek_id(TEST_OLD_KEK)} (configured; a run would re-wrap them): 2" in out
    assert f"still under {keystore.kek_id(TEST_KEK)} (configured; a run would re-wrap them): 3" in out
    assert "    messages/2026-01-01/1\n" in out and "    warrant/WD-2026-000001/pseudonyms\n" in out
    assert "1 destroyed" in out
    assert "do NOT remove it from WARRANTDESK_KEK yet (this was a dry run" in out


def test_without_verbose_only_counts_are_printed(settings, db):
    small_store(settings)

    out, _err = rotate("--dry-run")

    assert "messages/2026-01-01/1" not in out


def test_a_run_moves_every_live_key_and_audits_counts_per_kek_never_keys(settings, db):
    made = small_store(settings)

    out, _err = rotate("--batch-size", "2")

    assert under_each_kek() == {keystore.kek_id(NEW_KEK): 5}
    settings.WARRANTDESK_KEKS = [NEW_KEK]
    assert {name: keystore.get(name) for name in made} == made  # the data keys themselves did not change
    assert f"Re-wrapped 5 keys under {keystore.kek_id(NEW_KEK)}" in out
    assert f"older KEKs {keystore.kek_id(TEST_KEK)}, {keystore.kek_id(TEST_OLD_KEK)} can now be removed" in out
    entry = AuditEntry.objects.get(action=AuditAction.KEYS_ROTATED)
    assert entry.details == {
        "newest_kek": keystore.kek_id(NEW_KEK),
        "rewrapped": {keystore.kek_id(TEST_OLD_KEK): 2, keystore.kek_id(TEST_KEK): 3},
        "failed": {},
        "already_newest": 0,
        "destroyed_skipped": 1,
        "keys_seen": 6,
        "keys_listed": 6,
        "interrupted": False,
    }
    text = str(entry.details) + entry.actor_label
    for key in [*made.values(), NEW_KEK, TEST_KEK, TEST_OLD_KEK]:
        assert key.hex() not in text and base64.b64encode(key).decode() not in text
    assert "WD-2026" not in text and "messages/" not in text


def test_a_tombstone_is_skipped_and_never_revived(settings, db):
    small_store(settings)
    name = "warrant/WD-2026-000002/pseudonyms"
    tombstone = keyring_snapshot(settings)[f"{name}.key"]

    rotate()

    assert keyring_snapshot(settings)[f"{name}.key"] == tombstone
    with pytest.raises(keystore.KeyDestroyed):
        keystore.get(name)
    assert keystore.kek_of(name) == ""


def test_when_the_newest_kek_is_already_used_everywhere_it_does_nothing_and_says_so(settings, db):
    small_store(settings)
    rotate()
    before = keyring_snapshot(settings)

    out, _err = rotate()

    assert keyring_snapshot(settings) == before
    assert f"Nothing to re-wrap: no live key was under a KEK other than {keystore.kek_id(NEW_KEK)}" in out
    settings.WARRANTDESK_KEKS = [NEW_KEK]
    out, _err = rotate()
    assert keyring_snapshot(settings) == before
    assert f"Every live key is already under {keystore.kek_id(NEW_KEK)}, the only KEK configured: nothing to do" in out


def test_keys_under_a_kek_no_longer_configured_are_named_and_the_run_fails(settings, db):
    made = small_store(settings)
    settings.WARRANTDESK_KEKS = [NEW_KEK, TEST_KEK]  # TEST_OLD_KEK removed too early

    with pytest.raises(CommandError) as failure:
        rotate()

    assert failure.value.returncode == 1
    assert under_each_kek() == {keystore.kek_id(NEW_KEK): 3, keystore.kek_id(TEST_OLD_KEK): 2}
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("rotate_kek", "--verbose", stdout=out, stderr=io.StringIO())
    assert (
        f"still under {keystore.kek_id(TEST_OLD_KEK)} (NOT configured: these keys cannot be read): 2" in out.getvalue()
    )
    assert "do NOT remove it" in out.getvalue()
    settings.WARRANTDESK_KEKS = [NEW_KEK, TEST_OLD_KEK]  # put it back: the next run finishes
    rotate()
    settings.WARRANTDESK_KEKS = [NEW_KEK]
    assert {name: keystore.get(name) for name in made} == made


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_finishes_the_key_in_hand_reports_and_exits_non_zero_then_a_new_run_continues(
    settings, db, monkeypatch, signum, status
):
    made = small_store(settings)
    real_rewrap = keystore.rewrap
    done = []

    def rewrap_then_signal(name):
        if len(done) == 1:
            os.kill(os.getpid(), signum)  # arrives while this key is in hand
        moved = real_rewrap(name)
        done.append(name)
        return moved

    monkeypatch.setattr(keystore, "rewrap", rewrap_then_signal)
    out, err = io.StringIO(), io.StringIO()
    handler_before = signal.getsignal(signum)

    with pytest.raises(CommandError) as failure:
        call_command("rotate_kek", stdout=out, stderr=err)

    assert failure.value.returncode == status
    assert len(done) == 2  # the key in hand was finished, no further key taken
    assert under_each_kek()[keystore.kek_id(NEW_KEK)] == 2
    assert "Interrupted after" in out.getvalue() and "run `manage.py rotate_kek` again to continue" in out.getvalue()
    assert AuditEntry.objects.get(action=AuditAction.KEYS_ROTATED).details["interrupted"] is True
    assert signal.getsignal(signum) == handler_before  # the process's own handler is back
    monkeypatch.undo()

    out, _err = rotate()

    assert "Re-wrapped 3 keys" in out and "Already under it: 2." in out
    settings.WARRANTDESK_KEKS = [NEW_KEK]
    assert {name: keystore.get(name) for name in made} == made


def test_without_a_kek_it_refuses_clearly(settings, db):
    settings.WARRANTDESK_KEKS = []

    with pytest.raises(CommandError, match="No key-encryption key is configured"):
        rotate()


def test_a_batch_size_below_one_is_refused(settings, db):
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        rotate("--batch-size", "0")


def test_on_the_vault_backend_it_rotates_the_same_way(settings, db, monkeypatch):
    from tests.warrantdesk.test_keystore import FakeClient  # the in-memory double of hvac's KV v2 client

    vault = keystore.VaultBackend(FakeClient(), mount="secret", path="warrantdesk")
    monkeypatch.setattr(keystore, "backend", lambda: vault)
    made = small_store(settings)

    out, _err = rotate("--verbose")

    assert f"Re-wrapped 5 keys under {keystore.kek_id(NEW_KEK)}" in out and "can now be removed" in out
    settings.WARRANTDESK_KEKS = [NEW_KEK]
    assert {name: keystore.get(name) for name in made} == made
    with pytest.raises(keystore.KeyDestroyed):
        keystore.get("warrant/WD-2026-000002/pseudonyms")


def test_the_audit_entry_reads_in_english_and_korean(settings, db):
    from django.utils import translation

    from warrantdesk import audit_labels

    small_store(settings)
    rotate()
    details = AuditEntry.objects.get(action=AuditAction.KEYS_ROTATED).details

    counts = {keystore.kek_id(TEST_OLD_KEK): 2, keystore.kek_id(TEST_KEK): 3}
    assert dict(audit_labels.rows(details))["keys re-wrapped, by former KEK"] == ", ".join(
        f"{kek}: {count}"
        for kek, count in sorted(counts.items())  # stored with sorted keys
    )
    with translation.override("ko"):
        rows = dict(audit_labels.rows(details))
        assert str(AuditAction.KEYS_ROTATED.label) == "키 암호화 키(KEK) 교체"
    assert rows["최신 KEK"] == keystore.kek_id(NEW_KEK)
    assert rows["중단됨"] == "아니요"
