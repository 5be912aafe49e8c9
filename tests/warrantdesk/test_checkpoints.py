"""Signed checkpoints of the audit log: the note format, proofs through the API and the commands, the
standalone checker, and a rewritten old entry caught even when the whole chain after it was recomputed."""

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.helpers import client_for
from tests.warrantdesk.test_audit import tampering
from warrantdesk import checkpoints, merkle, verify_checkpoint
from warrantdesk.audit import audit_record, entry_hash, verify_chain
from warrantdesk.models import AuditAction, AuditChainHead, AuditEntry, Checkpoint


def write_entries(count: int, actor=None) -> None:
    for number in range(count):
        audit_record(
            action=AuditAction.WARRANT_ASSIGNED, actor=actor, warrant_ref="WD-2026-000001", details={"n": number}
        )


def command_output(name: str, *args) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def key_files(tmp_path):
    key = checkpoints.public_key()
    pem = tmp_path / "audit-public-key.pem"
    pem.write_bytes(checkpoints.public_key_pem(key))
    return {"pem": str(pem), "fingerprint": verify_checkpoint.key_fingerprint(key)}


def save(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- the note -------------------------------------------------------------------------------------


def test_a_checkpoint_is_a_c2sp_signed_note_over_the_rfc6962_root(db):
    write_entries(5)

    checkpoint = checkpoints.checkpoint_create(created_by="command")

    body, signature_line = checkpoint.note.split("\n\n")
    origin, size, root = body.split("\n")
    assert (origin, size) == (checkpoints.origin(), "5")
    assert base64.b64decode(root) == merkle.root(5) == bytes.fromhex(checkpoint.root_hash)
    dash, name, encoded = signature_line.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", origin)
    raw = base64.b64decode(encoded)
    public = checkpoints.public_key()
    raw_key = verify_checkpoint.raw_public_key(public)
    assert raw[:4] == hashlib.sha256(origin.encode() + b"\n\x01" + raw_key).digest()[:4]
    public.verify(raw[4:], (body + "\n").encode())


def test_the_same_size_is_signed_once_and_an_empty_log_not_at_all(db):
    assert checkpoints.checkpoint_create(created_by="command") is None
    write_entries(2)

    first = checkpoints.checkpoint_create(created_by="command")
    again = checkpoints.checkpoint_create(created_by="schedule")

    assert first.pk == again.pk
    assert Checkpoint.objects.count() == 1


def test_the_daily_job_is_registered_and_signs(db):
    from warrantdesk import periodic

    write_entries(3)

    job = periodic.registered()["audit.checkpoint"]
    summary = job.run()

    assert summary == {"tree_size": 3}
    assert Checkpoint.objects.get().tree_size == 3


def test_the_audit_checkpoint_command_prints_the_note(db):
    write_entries(3)

    output = command_output("audit_checkpoint")

    assert output == Checkpoint.objects.get().note


def test_the_tree_grows_with_the_log_and_old_roots_stay(db):
    write_entries(5)
    old = checkpoints.checkpoint_create(created_by="command")
    write_entries(9)

    new = checkpoints.checkpoint_create(created_by="command")

    assert new.tree_size == 14
    assert merkle.root(5).hex() == old.root_hash
    verify_checkpoint.verify_consistency(
        size1=5,
        size2=14,
        proof=merkle.consistency_proof(5, 14),
        root1=bytes.fromhex(old.root_hash),
        root2=bytes.fromhex(new.root_hash),
    )


def test_a_note_with_a_changed_root_or_another_key_fails(db):
    write_entries(3)
    note = checkpoints.checkpoint_create(created_by="command").note
    parsed = verify_checkpoint.parse_checkpoint(note)
    forged = note.replace("\n3\n", "\n2\n")
    stranger = Ed25519PrivateKey.generate()
    resigned = checkpoints.sign_note(parsed.body, name=parsed.origin, key=stranger)

    with pytest.raises(verify_checkpoint.ProofError):
        verify_checkpoint.verify_note_signature(verify_checkpoint.parse_checkpoint(forged), checkpoints.public_key())
    with pytest.raises(verify_checkpoint.ProofError):
        verify_checkpoint.verify_note_signature(verify_checkpoint.parse_checkpoint(resigned), checkpoints.public_key())


# --- the rewrite that a recomputed chain cannot hide ------------------------------------------------


def rewrite_entry_and_recompute_the_chain(seq: int) -> None:
    """What an insider with database access does: change an old entry, then recompute every later
    hash and the head so that the hash chain verifies again."""
    entries = list(AuditEntry.objects.order_by("seq"))
    prev = entries[seq - 2].hash if seq > 1 else "0" * 64
    with tampering():
        for entry in entries[seq - 1 :]:
            details = {"n": 999} if entry.seq == seq else entry.details
            fields = {
                "at": entry.at,
                "actor_id": entry.actor_id,
                "actor_label": entry.actor_label,
                "action": entry.action,
                "warrant_ref": entry.warrant_ref,
                "object_type": entry.object_type,
                "object_id": entry.object_id,
                "ip": entry.ip,
                "details": details,
                "prev_hash": prev,
            }
            digest = entry_hash(**fields)
            AuditEntry.objects.filter(pk=entry.pk).update(details=details, prev_hash=prev, hash=digest)
            prev = digest
        AuditChainHead.objects.filter(pk=1).update(hash=prev)


@pytest.fixture
def rewritten_log(db, tmp_path):
    """A log of 6 entries with its checkpoint kept by an auditor, 4 more entries, then entry #2 rewritten
    with the chain recomputed, the tree rebuilt from the rewritten entries and a new checkpoint signed."""
    from warrantdesk.models import MerkleNode

    write_entries(6)
    old = checkpoints.checkpoint_create(created_by="command")
    kept_note = save(tmp_path, "old.txt", old.note)
    write_entries(4)
    rewrite_entry_and_recompute_the_chain(2)
    with tampering():
        MerkleNode.objects.all().delete()  # the insider rebuilds the tree too
    new = checkpoints.checkpoint_create(created_by="command")
    return {"old": old, "new": new, "kept_note": kept_note}


def test_the_chain_alone_does_not_see_the_rewrite(rewritten_log):
    assert verify_chain().ok


def test_verify_audit_log_catches_the_rewrite_through_the_old_checkpoint(rewritten_log):
    with pytest.raises(CommandError) as caught:
        command_output("verify_audit_log")

    assert "checkpoint of 6 entries" in str(caught.value)
    assert "no longer give the signed root" in str(caught.value)


def test_no_consistency_proof_from_the_old_checkpoint_holds(rewritten_log):
    old, new = rewritten_log["old"], rewritten_log["new"]

    with pytest.raises(verify_checkpoint.ProofError):
        verify_checkpoint.verify_consistency(
            size1=6,
            size2=10,
            proof=merkle.consistency_proof(6, 10),
            root1=bytes.fromhex(old.root_hash),
            root2=bytes.fromhex(new.root_hash),
        )


def test_the_standalone_checker_refuses_the_rewritten_log(rewritten_log, tmp_path, key_files, capsys):
    new = rewritten_log["new"]
    proof = checkpoints.consistency(old=rewritten_log["old"], new=new)
    # The insider cannot produce a proof from the kept note; give the checker the best one there is.
    proof_file = save(tmp_path, "proof.json", json.dumps(proof))
    new_note = save(tmp_path, "new.txt", new.note)

    status = verify_checkpoint.run(
        ["consistency", rewritten_log["kept_note"], new_note, "--proof", proof_file, "--public-key", key_files["pem"]]
    )

    assert status == verify_checkpoint.EXIT_INVALID
    assert "consistency proof" in capsys.readouterr().out


def test_verify_audit_log_passes_an_untouched_log_with_checkpoints(db):
    write_entries(5)
    checkpoints.checkpoint_create(created_by="command")
    write_entries(3)
    checkpoints.checkpoint_create(created_by="command")

    output = command_output("verify_audit_log")

    assert output.startswith("OK 8 entries verified")
    assert "2 signed checkpoint(s) match" in output


def test_verify_audit_log_catches_a_changed_tree_node(db):
    from warrantdesk.models import MerkleNode

    write_entries(5)
    checkpoints.checkpoint_create(created_by="command")
    with tampering():
        MerkleNode.objects.filter(level=1, index=1).update(hash=b"\x00" * 32)

    with pytest.raises(CommandError, match="level 1, node 1"):
        command_output("verify_audit_log")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ("delete", "level 2, node 0"),  # a perfect subtree gone: proofs through it cannot be served
        ("extra", "level 3, node 0"),  # a node above the top of the stored tree (a forged older root)
        ("leaf", "level 0, node 2"),  # a leaf of the tree changed, not the entry
    ],
)
def test_verify_audit_log_catches_a_missing_extra_or_changed_stored_node(db, change, where):
    from warrantdesk.models import MerkleNode

    write_entries(6)
    checkpoints.checkpoint_create(created_by="command")
    with tampering():
        if change == "delete":
            MerkleNode.objects.filter(level=2, index=0).delete()
        elif change == "extra":
            MerkleNode.objects.create(level=3, index=0, hash=b"\x01" * 32)
        else:
            MerkleNode.objects.filter(level=0, index=2).update(hash=b"\x02" * 32)

    with pytest.raises(CommandError, match=where):
        command_output("verify_audit_log")


def test_verify_audit_log_reads_times_with_and_without_microseconds(db):
    """SQLite keeps a time without its microseconds when they are 0: the canonical text has them."""
    import datetime as dt

    import time_machine

    with time_machine.travel(dt.datetime(2026, 3, 1, 9, 0, 0, tzinfo=dt.UTC), tick=False):
        write_entries(3)
    write_entries(2)
    checkpoints.checkpoint_create(created_by="command")

    assert sum(entry.at.microsecond == 0 for entry in AuditEntry.objects.all()) >= 3
    assert command_output("verify_audit_log").startswith("OK 5 entries verified")


@pytest.mark.postgres
def test_on_postgresql_the_tree_and_the_checkpoints_refuse_update_and_delete(db):
    from django.db import DatabaseError, connection, transaction

    from warrantdesk.models import MerkleNode

    write_entries(3)
    checkpoint = checkpoints.checkpoint_create(created_by="command")
    statements = [
        ('UPDATE warrantdesk_merklenode SET hash = %s WHERE level = 0 AND "index" = 0', [b"\x00" * 32]),
        ("DELETE FROM warrantdesk_merklenode WHERE level = 1", None),
        ("UPDATE warrantdesk_checkpoint SET note = 'forged' WHERE id = %s", [checkpoint.pk]),
        ("DELETE FROM warrantdesk_checkpoint WHERE id = %s", [checkpoint.pk]),
    ]
    for sql, params in statements:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Checkpoint.objects.all().delete()

    assert MerkleNode.objects.count() == 4 and Checkpoint.objects.get().note == checkpoint.note
    assert command_output("verify_audit_log").startswith("OK 3 entries verified")


def test_verify_audit_log_catches_a_forged_checkpoint_signature(db):
    write_entries(4)
    checkpoint = checkpoints.checkpoint_create(created_by="command")
    with tampering():
        Checkpoint.objects.filter(pk=checkpoint.pk).update(note=checkpoint.note.replace("\n4\n", "\n3\n"))

    with pytest.raises(CommandError, match="checkpoint of 4 entries"):
        command_output("verify_audit_log")


# --- the standalone checker -------------------------------------------------------------------------


@pytest.fixture
def two_checkpoints(db, tmp_path):
    write_entries(7)
    old = checkpoints.checkpoint_create(created_by="command")
    write_entries(6)
    new = checkpoints.checkpoint_create(created_by="command")
    return {
        "old": save(tmp_path, "old.txt", old.note),
        "new": save(tmp_path, "new.txt", new.note),
        "consistency": save(tmp_path, "c.json", json.dumps(checkpoints.consistency(old=old, new=new))),
        "inclusion": save(tmp_path, "i.json", json.dumps(checkpoints.inclusion(checkpoint=new, seq=4))),
    }


def test_the_checker_says_valid_with_a_pinned_key(two_checkpoints, key_files):
    files = two_checkpoints

    assert verify_checkpoint.run(["checkpoint", files["new"], "--public-key", key_files["pem"]]) == 0
    assert (
        verify_checkpoint.run(
            [
                "consistency",
                files["old"],
                files["new"],
                "--proof",
                files["consistency"],
                "--public-key",
                key_files["pem"],
            ]
        )
        == 0
    )
    assert (
        verify_checkpoint.run(
            [
                "inclusion",
                files["new"],
                "--proof",
                files["inclusion"],
                "--key",
                key_files["pem"],
                "--fingerprint",
                key_files["fingerprint"],
            ]
        )
        == 0
    )


def test_the_checker_never_says_valid_without_a_pinned_key(two_checkpoints, key_files, capsys):
    status = verify_checkpoint.run(["checkpoint", two_checkpoints["new"], "--key", key_files["pem"]])

    assert status == verify_checkpoint.EXIT_UNPROVEN
    assert "ORIGIN UNPROVEN" in capsys.readouterr().out


def test_the_checker_refuses_a_key_that_is_not_the_pinned_one(two_checkpoints, key_files):
    status = verify_checkpoint.run(
        ["checkpoint", two_checkpoints["new"], "--key", key_files["pem"], "--fingerprint", "ab" * 32]
    )

    assert status == verify_checkpoint.EXIT_INVALID


def test_the_checker_refuses_an_inclusion_proof_of_an_altered_entry(two_checkpoints, key_files, tmp_path):
    original = json.loads(Path(two_checkpoints["inclusion"]).read_text())
    proof = dict(original)
    proof["canonical"] = proof["canonical"].replace('{"n":3}', '{"n":4}').replace('{"n": 3}', '{"n": 4}')
    assert proof["canonical"] != original["canonical"]
    altered = save(tmp_path, "altered.json", json.dumps(proof))

    status = verify_checkpoint.run(
        ["inclusion", two_checkpoints["new"], "--proof", altered, "--public-key", key_files["pem"]]
    )

    assert status == verify_checkpoint.EXIT_INVALID


def test_the_checker_reports_bad_usage(two_checkpoints, tmp_path):
    assert verify_checkpoint.run(["consistency", two_checkpoints["old"], "--public-key", "x"]) == 2
    assert verify_checkpoint.run(["checkpoint", two_checkpoints["new"], "--public-key", str(tmp_path / "nope")]) == 2


def test_the_audit_proof_command_prints_what_the_checker_reads(two_checkpoints):
    inclusion = json.loads(command_output("audit_proof", "inclusion", "13", "4"))
    consistency = json.loads(command_output("audit_proof", "consistency", "7", "13"))

    assert (inclusion["leaf_index"], inclusion["tree_size"]) == (3, 13)
    assert (consistency["from"], consistency["to"]) == (7, 13)
    with pytest.raises(CommandError, match="no checkpoint of 8 entries"):
        command_output("audit_proof", "consistency", "8", "13")
    with pytest.raises(CommandError, match="not covered"):
        command_output("audit_proof", "inclusion", "7", "9")


# --- the API and the pages ----------------------------------------------------------------------------


@pytest.fixture
def signed(db):
    write_entries(7)
    checkpoints.checkpoint_create(created_by="command")
    write_entries(6)
    checkpoints.checkpoint_create(created_by="command")


def test_auditors_list_checkpoints_and_fetch_proofs_that_verify(signed, auditor):
    api = client_for(auditor)

    listing = api.get("/api/v1/audit/checkpoints/").json()
    inclusion = api.get("/api/v1/audit/checkpoints/13/inclusion/?entry=5").json()
    consistency = api.get("/api/v1/audit/checkpoints/13/consistency/?from=7").json()

    sizes = (
        [row["tree_size"] for row in listing["results"]]
        if isinstance(listing, dict)
        else [r["tree_size"] for r in listing]
    )
    assert sizes == [13, 7]
    new = verify_checkpoint.parse_checkpoint(inclusion["checkpoint"])
    old = verify_checkpoint.parse_checkpoint(consistency["old_checkpoint"])
    verify_checkpoint.verify_inclusion(
        index=4,
        size=13,
        leaf=verify_checkpoint.leaf_hash(inclusion["canonical"].encode()),
        proof=[base64.b64decode(p) for p in inclusion["proof"]],
        root=new.root,
    )
    verify_checkpoint.verify_consistency(
        size1=7, size2=13, proof=[base64.b64decode(p) for p in consistency["proof"]], root1=old.root, root2=new.root
    )


@pytest.mark.parametrize(
    ("url", "status", "word"),
    [
        ("/api/v1/audit/checkpoints/99/", 404, None),
        ("/api/v1/audit/checkpoints/abc/", 404, "Not found"),  # a malformed id in the path: 404 as everywhere
        ("/api/v1/audit/checkpoints/13/inclusion/", 400, "entry"),
        ("/api/v1/audit/checkpoints/13/inclusion/?entry=x", 400, "entry"),
        ("/api/v1/audit/checkpoints/13/inclusion/?entry=0", 400, "entry"),
        ("/api/v1/audit/checkpoints/7/inclusion/?entry=9", 400, "not covered"),
        ("/api/v1/audit/checkpoints/13/inclusion/?entry=99999999999999999999999", 400, "entry"),
        ("/api/v1/audit/checkpoints/13/consistency/", 400, "from"),
        ("/api/v1/audit/checkpoints/13/consistency/?from=8", 400, "No checkpoint of 8"),
        ("/api/v1/audit/checkpoints/7/consistency/?from=13", 400, "must not be larger"),
    ],
)
def test_bad_proof_requests_get_a_clear_4xx(signed, admin_user, url, status, word):
    response = client_for(admin_user).get(url)

    assert response.status_code == status
    if word:
        assert word in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit/checkpoints/",
        "/api/v1/audit/checkpoints/13/",
        "/api/v1/audit/checkpoints/13/inclusion/?entry=1",
        "/api/v1/audit/checkpoints/13/consistency/?from=7",
        "/audit/checkpoints/",
        "/audit/checkpoints/13.txt",
    ],
)
def test_officers_cannot_read_checkpoints_or_proofs(signed, legal_officer, reviewer, outsider, url):
    for user in (legal_officer, reviewer, outsider):
        assert client_for(user).get(url).status_code in (403, 404)


def test_auditors_see_the_list_and_download_a_note(signed, auditor):
    client = client_for(auditor)

    page = client.get(reverse("audit-checkpoints"))
    note = client.get(reverse("audit-checkpoint-note", args=[13]))

    assert page.status_code == 200
    assert "checkpoint-13.txt" in page.content.decode()
    assert note.status_code == 200
    assert note.content.decode() == Checkpoint.objects.get(tree_size=13).note
    assert client.get(reverse("audit-checkpoint-note", args=[14])).status_code == 404


def test_the_audit_key_and_checker_are_public(db, client):
    key = checkpoints.public_key()

    page = client.get(reverse("audit-key"))
    pem = client.get(reverse("audit-key-pem"))
    script = client.get(reverse("audit-verify-script"))

    assert page.status_code == 200
    assert verify_checkpoint.format_fingerprint(verify_checkpoint.key_fingerprint(key)) in page.content.decode()
    assert pem.content == checkpoints.public_key_pem(key)
    assert b"def verify_consistency" in b"".join(script.streaming_content)


def test_without_a_key_the_key_page_says_so(db, client, settings):
    settings.WARRANTDESK_SIGNING_KEY = ""

    assert client.get(reverse("audit-key")).status_code == 503
    assert client.get(reverse("audit-key-pem")).status_code == 503
    with pytest.raises(CommandError, match="WARRANTDESK_SIGNING_KEY"):
        write_entries(1)
        command_output("audit_checkpoint")
