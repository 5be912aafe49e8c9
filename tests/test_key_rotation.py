"""Rotating the operator's signing key (issue #14): what key A signed still verifies once key B signs.

Key A signs checkpoints, a package and a transparency report; the operator replaces it with key B and
lists A's public half in WARRANTDESK_RETIRED_SIGNING_KEYS. Everything A signed verifies, named as
signed by the retired key; without A listed it fails as before; a key C the operator never had fails
even with A listed; both keys are published, marked; a private key in the retired keys is refused.
"""

import base64
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core import checks
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from disclosure.exports import verify_package
from oversight import report
from tests.warrantdesk.test_checkpoints import write_entries
from warrantdesk import checkpoints, operator_keys, verify_checkpoint
from warrantdesk.models import Checkpoint

KEY_A = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
KEY_B = Ed25519PrivateKey.from_private_bytes(bytes(range(33, 65)))
KEY_C = Ed25519PrivateKey.from_private_bytes(bytes(range(65, 97)))
RETIRED_ON = dt.date(2026, 12, 1)


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def fingerprint(key: Ed25519PrivateKey) -> str:
    return verify_checkpoint.key_fingerprint(key.public_key())


def grouped(key: Ed25519PrivateKey) -> str:
    return verify_checkpoint.format_fingerprint(fingerprint(key))


def retired_file(*keys: Ed25519PrivateKey) -> str:
    """The retired keys as the README's procedure writes them: a dated line, then the public key."""
    return "".join(f"Retired: {RETIRED_ON.isoformat()}\n{public_pem(key)}" for key in keys)


def rotate(settings, *, to: Ed25519PrivateKey, retired: tuple[Ed25519PrivateKey, ...] = ()) -> None:
    settings.WARRANTDESK_SIGNING_KEY = private_pem(to)
    settings.WARRANTDESK_RETIRED_SIGNING_KEYS = retired_file(*retired)


def verify_audit_log() -> str:
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    return out.getvalue()


@pytest.fixture
def signed_under_a(db, settings):
    """Two checkpoints signed under key A, then one under key B after the rotation (A retired)."""
    rotate(settings, to=KEY_A)
    write_entries(4)
    checkpoints.checkpoint_create(created_by="command")
    write_entries(3)
    checkpoints.checkpoint_create(created_by="command")
    rotate(settings, to=KEY_B, retired=(KEY_A,))
    write_entries(2)
    checkpoints.checkpoint_create(created_by="command")
    return settings


# --- the audit log's checkpoints -------------------------------------------------------------------


def test_after_the_rotation_verify_audit_log_passes_and_names_both_keys(signed_under_a):
    output = verify_audit_log()

    assert output.startswith("OK 9 entries verified")
    assert "3 signed checkpoint(s) match" in output
    lines = output.splitlines()[1:]
    assert lines == [
        f"  2 checkpoint(s) of 4 to 7 entries: signed by SHA-256 {grouped(KEY_A)} "
        "(a retired key, retired on 2026-12-01)",
        f"  1 checkpoint(s) of 9 entries: signed by SHA-256 {grouped(KEY_B)} (the current key)",
    ]
    assert list(Checkpoint.objects.order_by("tree_size").values_list("key_fingerprint", flat=True)) == [
        fingerprint(KEY_A),
        fingerprint(KEY_A),
        fingerprint(KEY_B),
    ]


def test_without_the_retired_key_the_old_checkpoints_fail_as_before(signed_under_a):
    signed_under_a.WARRANTDESK_RETIRED_SIGNING_KEYS = ""

    with pytest.raises(CommandError) as caught:
        verify_audit_log()

    message = str(caught.value)
    assert message.startswith("FAILED: checkpoint of 4 entries: the note carries no signature by the pinned key")
    assert "checkpoint of 7 entries" in message
    assert "checkpoint of 9 entries" not in message


def test_a_checkpoint_signed_by_a_key_the_operator_never_had_fails_even_with_a_retired_key(signed_under_a):
    stranger = Checkpoint.objects.get(tree_size=7)
    parsed = verify_checkpoint.parse_checkpoint(stranger.note)
    forged = checkpoints.sign_note(parsed.body, name=parsed.origin, key=KEY_C)
    from tests.warrantdesk.test_audit import tampering

    with tampering():
        Checkpoint.objects.filter(pk=stranger.pk).update(note=forged, key_fingerprint=fingerprint(KEY_C))

    with pytest.raises(CommandError) as caught:
        verify_audit_log()

    assert "checkpoint of 7 entries: the note carries no signature by any of the 2 pinned keys" in str(caught.value)
    assert "checkpoint of 4 entries" not in str(caught.value)


def test_the_standalone_checker_proves_consistency_across_the_rotation(signed_under_a, tmp_path, capsys):
    old, new = Checkpoint.objects.get(tree_size=4), Checkpoint.objects.get(tree_size=9)
    files = {}
    for name, text in {
        "old.txt": old.note,
        "new.txt": new.note,
        "proof.json": json.dumps(checkpoints.consistency(old=old, new=new)),
        "b.pem": public_pem(KEY_B),
        "a.pem": public_pem(KEY_A),
    }.items():
        (tmp_path / name).write_text(text)
        files[name] = str(tmp_path / name)
    args = ["consistency", files["old.txt"], files["new.txt"], "--proof", files["proof.json"]]

    both = verify_checkpoint.run([*args, "--public-key", files["b.pem"], "--public-key", files["a.pem"]])
    output = capsys.readouterr().out
    only_new = verify_checkpoint.run([*args, "--public-key", files["b.pem"]])

    assert both == verify_checkpoint.EXIT_VALID
    assert f"old.txt: signature of {old.origin}, tree size 4 by the key SHA-256 {grouped(KEY_A)}" in output
    assert f"new.txt: signature of {new.origin}, tree size 9 by the key SHA-256 {grouped(KEY_B)}" in output
    assert only_new == verify_checkpoint.EXIT_INVALID


# --- publication -----------------------------------------------------------------------------------


def test_the_key_pages_publish_the_current_key_and_the_retired_one_marked(db, settings, client):
    rotate(settings, to=KEY_B, retired=(KEY_A,))

    operator_page = client.get(reverse("operator-key")).content.decode()
    audit_page = client.get(reverse("audit-key")).content.decode()
    api = client.get("/api/v1/operator-key/").json()
    current_pem = client.get(reverse("operator-key-pem"))
    retired_pem = client.get(reverse("operator-key-pem"), {"fingerprint": grouped(KEY_A)})
    retired_audit_pem = client.get(reverse("audit-key-pem"), {"fingerprint": fingerprint(KEY_A)})

    for page in (operator_page, audit_page):
        assert page.index(grouped(KEY_B)) < page.index("Retired keys") < page.index(grouped(KEY_A))
        assert "Retired since 2026-12-01" in page
        assert public_pem(KEY_A).strip() in page
    assert verify_checkpoint.verifier_key(checkpoints.origin(), KEY_A.public_key()) in audit_page
    assert (api["fingerprint_sha256"], api["public_key_pem"]) == (fingerprint(KEY_B), public_pem(KEY_B))
    assert api["retired_keys"] == [
        {
            "algorithm": "Ed25519",
            "public_key_pem": public_pem(KEY_A),
            "fingerprint_sha256": fingerprint(KEY_A),
            "fingerprint": grouped(KEY_A),
            "retired_on": "2026-12-01",
        }
    ]
    assert current_pem.content.decode() == public_pem(KEY_B)
    assert current_pem["Content-Disposition"] == 'attachment; filename="operator-public-key.pem"'
    assert retired_pem.content.decode() == retired_audit_pem.content.decode() == public_pem(KEY_A)
    assert f"operator-public-key-retired-{fingerprint(KEY_A)[:16]}.pem" in retired_pem["Content-Disposition"]
    korean = client.get(reverse("operator-key"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "폐기된 키" in korean and "2026-12-01부터 폐기됨" in korean


def test_a_key_address_naming_no_published_key_is_404(db, settings, client):
    rotate(settings, to=KEY_B, retired=(KEY_A,))

    for url in (reverse("operator-key-pem"), reverse("audit-key-pem")):
        assert client.get(url, {"fingerprint": fingerprint(KEY_C)}).status_code == 404
        assert client.get(url, {"fingerprint": "not a fingerprint"}).status_code == 404


# --- packages and published reports ----------------------------------------------------------------


def package_signed_by(key: Ed25519PrivateKey, path: Path) -> Path:
    """A package as the exporter lays it out: files, the manifest of their hashes, its signature and
    a copy of the signing key."""
    files = {"messages.csv": b"room,sent_at,sender,text\r\nroom-1,2026-01-02T00:00:00+00:00,p1.x,hello\r\n"}
    manifest = {
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in files.items()}
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("manifest.json", manifest_bytes)
        archive.writestr("manifest.sig", base64.b64encode(key.sign(manifest_bytes)) + b"\n")
        archive.writestr("operator-public-key.pem", public_pem(key))
    return path


def verify_export(package: Path) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_export", str(package), stdout=out, no_color=True)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_verify_export_checks_an_older_package_with_the_retired_key_it_names(db, settings, tmp_path):
    old_package = package_signed_by(KEY_A, tmp_path / "old.zip")
    new_package = package_signed_by(KEY_B, tmp_path / "new.zip")
    stranger_package = package_signed_by(KEY_C, tmp_path / "stranger.zip")
    rotate(settings, to=KEY_B, retired=(KEY_A,))

    old_status, old_output = verify_export(old_package)
    new_status, new_output = verify_export(new_package)
    stranger_status, stranger_output = verify_export(stranger_package)
    settings.WARRANTDESK_RETIRED_SIGNING_KEYS = ""
    unlisted_status, _output = verify_export(old_package)

    assert old_status == 0, old_output
    assert f"Pinned operator key:    SHA-256 {grouped(KEY_A)} (a retired key, retired on 2026-12-01)" in old_output
    assert new_status == 0, new_output
    assert f"Pinned operator key:    SHA-256 {grouped(KEY_B)} (the current key)" in new_output
    assert stranger_status == verify_package.EXIT_INVALID
    assert "the package's embedded key is none of the pinned keys" in stranger_output
    assert unlisted_status == verify_package.EXIT_INVALID


def test_the_standalone_package_checker_pins_a_retired_key_by_fingerprint_or_file(tmp_path):
    old_package = package_signed_by(KEY_A, tmp_path / "old.zip")
    (tmp_path / "published.pem").write_text(public_pem(KEY_B))
    (tmp_path / "both.pem").write_text(public_pem(KEY_B) + retired_file(KEY_A))

    by_fingerprint = verify_package.verify(str(old_package), fingerprint=grouped(KEY_A))
    by_both = verify_package.verify(str(old_package), public_key_pem=(tmp_path / "both.pem").read_bytes())
    by_current = verify_package.verify(str(old_package), public_key_pem=(tmp_path / "published.pem").read_bytes())

    assert by_fingerprint.status == by_both.status == verify_package.EXIT_VALID
    assert by_both.pinned_fingerprint == fingerprint(KEY_A)
    assert by_current.status == verify_package.EXIT_INVALID


def test_a_transparency_report_signed_under_the_old_key_verifies_after_the_rotation(db, settings, client, admin_user):
    rotate(settings, to=KEY_A)
    published = report.report_publish(period=report.Period.half_year(2026, 1), language="en", actor=admin_user)
    rotate(settings, to=KEY_B, retired=(KEY_A,))

    page = client.get(reverse("transparency-report", args=[published.reference])).content.decode()
    signer = report.signature_key(published)

    assert signer is not None and signer.fingerprint == fingerprint(KEY_A) and not signer.current
    assert "The signature of this report is valid" in page
    assert "Signed with a retired operator key (retired since 2026-12-01)" in page
    assert f"operator-public-key-retired-{fingerprint(KEY_A)[:16]}.pem" in page
    settings.WARRANTDESK_RETIRED_SIGNING_KEYS = ""
    assert not report.signature_valid(published)
    settings.WARRANTDESK_RETIRED_SIGNING_KEYS = retired_file(KEY_C)
    assert not report.signature_valid(published)


# --- the setting -----------------------------------------------------------------------------------


def test_the_retired_keys_file_is_read_with_its_dates():
    text = retired_file(KEY_A) + "\n# a note between keys\n" + public_pem(KEY_C) + public_pem(KEY_A)

    keys = operator_keys.parse_retired(text)

    assert [(key.fingerprint, key.retired_on) for key in keys] == [
        (fingerprint(KEY_A), RETIRED_ON),
        (fingerprint(KEY_C), None),
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (private_pem(KEY_A), "holds a private key"),
        (public_pem(KEY_B) + private_pem(KEY_A), "holds a private key"),
        ("Retired: 1 December\n" + public_pem(KEY_A), "needs a date, YYYY-MM-DD"),
        (public_pem(KEY_A) + "Retired: 2026-12-01\n", "belongs to no key"),
        (public_pem(KEY_A)[:-25], "no matching -----END line"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a PUBLIC KEY"),
        ("just some text", "holds no PEM public key"),
    ],
)
def test_a_bad_retired_keys_file_is_refused_without_repeating_it(text, error):
    with pytest.raises(ValueError, match=error) as caught:
        operator_keys.parse_retired(text)

    assert "MC4CAQAw" not in str(caught.value)  # no key material in the message


def test_a_private_key_in_the_retired_keys_file_stops_every_command(tmp_path):
    path = tmp_path / "retired-signing-keys.pem"
    path.write_text(public_pem(KEY_B) + private_pem(KEY_A))
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("WARRANTDESK_", "DATABASE_URL"))}
    env = {**clean, "WARRANTDESK_VAR_DIR": str(tmp_path), "WARRANTDESK_RETIRED_SIGNING_KEYS_FILE": str(path)}

    result = subprocess.run(
        [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: WARRANTDESK_RETIRED_SIGNING_KEYS: holds a private key" in result.stderr
    assert private_pem(KEY_A).splitlines()[1] not in result.stderr + result.stdout


def test_the_current_key_listed_as_retired_is_a_warning(settings):
    rotate(settings, to=KEY_A, retired=(KEY_A,))

    messages = [message for message in checks.run_checks() if message.id == "warrantdesk.W001"]
    keys = operator_keys.keyring(KEY_A.public_key())

    assert len(messages) == 1 and grouped(KEY_A) in messages[0].msg
    assert [(key.fingerprint, key.current) for key in keys] == [(fingerprint(KEY_A), True)]
    rotate(settings, to=KEY_B, retired=(KEY_A,))
    assert not [message for message in checks.run_checks() if message.id == "warrantdesk.W001"]


def test_the_checkpoint_list_shows_which_key_signed_each_checkpoint(signed_under_a, auditor):
    from tests.helpers import client_for

    client = client_for(auditor)
    rows = client.get(reverse("audit-checkpoints")).content.decode().split("<tr>")[2:]  # after the head
    assert [row.split("<td>")[1].split("</td>")[0] for row in rows] == ["9", "7", "4"]
    assert "Current key" in rows[0] and fingerprint(KEY_B)[:14] in rows[0]
    for row in rows[1:]:
        assert "Retired since 2026-12-01" in row and fingerprint(KEY_A)[:14] in row
        assert f"?fingerprint={fingerprint(KEY_A)}" in row  # the retired key's PEM, to pin it
    signed_under_a.WARRANTDESK_RETIRED_SIGNING_KEYS = ""  # the operator stopped publishing key A
    rows = client.get(reverse("audit-checkpoints")).content.decode().split("<tr>")[2:]
    assert "Not a published key" in rows[1] and "?fingerprint=" not in rows[1]
    with translation.override("ko"):
        assert "현재 키" in client.get(reverse("audit-checkpoints"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
