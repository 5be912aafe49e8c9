"""Checking a package: only the operator's published key proves where it comes from.

A forger who alters a package can sign it again with a key of their own and ship that key inside it;
the checker must never call such a package VALID, whether it runs as the agency's standalone script
(in a subprocess, as the agency runs it) or as ``manage.py verify_export`` at the operator.
"""

import ast
import base64
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pypdf
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db.models import Count
from django.urls import reverse
from django.utils import translation

from demo.generator import generate
from disclosure import keys, services
from disclosure.exports import verify_package
from disclosure.models import Account, DownloadLink, Export
from disclosure.packages import package_open
from disclosure.scope import warrant_scope
from requests_app import services as warrant_services
from requests_app.services import TargetInput
from tests.factories import AccountFactory, MessageFactory, warrant_fields
from tests.helpers import arranged_follow_up, client_for, verify_signature

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SCRIPT = Path(verify_package.__file__)


# --- arrange ---------------------------------------------------------------------------------------


@pytest.fixture
def approved_warrant(db, legal_officer, reviewer, agency, pdf_upload):
    generate(accounts=24, rooms=4, messages=240, seed=23, start=START, days=20)
    busiest = Account.objects.filter(uid__startswith="gen-23-").annotate(n=Count("messages")).order_by("-n", "uid")
    warrant = warrant_services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", busiest[0].uid)],
        upload=pdf_upload(),
        **warrant_fields(agency, period_start=START, period_end=START + dt.timedelta(days=20)),
    )
    warrant_services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
    verify_signature(warrant, actor=legal_officer)
    return warrant_services.warrant_approve(warrant=warrant, actor=reviewer)


@pytest.fixture
def export(approved_warrant, legal_officer) -> Export:
    export = services.export_run(export=services.export_start(warrant=approved_warrant, actor=legal_officer))
    assert export.status == Export.Status.READY, export.error
    return export


@pytest.fixture
def genuine(export, tmp_path) -> Path:
    path = tmp_path / "genuine.zip"
    with package_open(export) as handle:
        path.write_bytes(handle.read())
    return path


@pytest.fixture
def published(client, tmp_path) -> dict:
    """The operator's key as an agency gets it: from the public page and API, without an account."""
    pem = client.get(reverse("operator-key-pem"))
    api = client.get("/api/v1/operator-key/")
    assert pem.status_code == api.status_code == 200
    path = tmp_path / "operator-public-key.pem"
    path.write_bytes(pem.content)
    return {"pem_path": path, **api.json()}


def forge(source: Path, target: Path, *, ship_own_key: bool = True) -> str:
    """Alter messages.csv, fix the manifest's hashes, sign it with a new key; returns that key's fingerprint.

    With ``ship_own_key`` the forger's key replaces the operator's copy inside the package."""
    forger = Ed25519PrivateKey.generate()
    with zipfile.ZipFile(source) as archive:
        files = {item.filename: archive.read(item.filename) for item in archive.infolist()}
    files["messages.csv"] = files["messages.csv"] + b"room-1,2026-01-02T00:00:00+00:00,x,x,TEXT,FORGED\r\n"
    manifest = json.loads(files["manifest.json"])
    for name in manifest["files"]:
        manifest["files"][name] = {"sha256": hashlib.sha256(files[name]).hexdigest(), "size": len(files[name])}
    files["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
    files["manifest.sig"] = base64.b64encode(forger.sign(files["manifest.json"])) + b"\n"
    if ship_own_key:
        files["operator-public-key.pem"] = keys.public_key_pem(forger.public_key())
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return keys.public_key_fingerprint(forger.public_key())


def rewrite(source: Path, target: Path, name: str, change) -> Path:
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for item in archive.infolist():
            data = archive.read(item.filename)
            out.writestr(item, change(data) if item.filename == name else data)
    return target


def run_script(*args, cwd: Path) -> subprocess.CompletedProcess:
    """The checker as an agency runs it: a copy of the file alone, isolated from this project."""
    copy = cwd / "verify_package.py"
    copy.write_bytes(SCRIPT.read_bytes())
    return subprocess.run(
        [sys.executable, "-I", str(copy), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def verify_export(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_export", *map(str, args), stdout=out, stderr=err, no_color=True)
    except SystemExit as exit:
        return exit.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


# --- a genuine package -----------------------------------------------------------------------------


def test_a_genuine_package_is_valid_with_the_published_key_or_fingerprint(genuine, published, tmp_path):
    by_key = run_script(genuine, "--public-key", published["pem_path"], cwd=tmp_path)
    by_fingerprint = run_script(genuine, "--fingerprint", published["fingerprint"], cwd=tmp_path)
    by_plain_hex = run_script(genuine, "--fingerprint", published["fingerprint_sha256"].upper(), cwd=tmp_path)

    for result in (by_key, by_fingerprint, by_plain_hex):
        assert result.returncode == 0, result.stdout + result.stderr
        assert last_line(result.stdout).startswith("VALID: ")
        assert published["fingerprint"] in last_line(result.stdout)
    assert "FAIL" not in by_key.stdout


def test_without_a_pinned_key_a_genuine_package_is_consistent_but_not_valid(genuine, published, tmp_path):
    result = run_script(genuine, cwd=tmp_path)

    assert result.returncode == verify_package.EXIT_UNPROVEN == 3
    assert last_line(result.stdout).startswith("ORIGIN UNPROVEN: ")
    assert not any(line.startswith("VALID") for line in result.stdout.splitlines())
    assert f"Key inside the package: SHA-256 {published['fingerprint']}" in result.stdout
    assert re.fullmatch(r"([0-9a-f]{4} ){15}[0-9a-f]{4}", published["fingerprint"])


def test_verify_export_pins_the_operators_own_key(genuine, published):
    code, out, _err = verify_export(genuine)

    assert code == 0
    assert f"Pinned operator key:    SHA-256 {published['fingerprint']}" in out
    assert last_line(out).startswith("VALID: ")


# --- a forged package ------------------------------------------------------------------------------


@pytest.mark.parametrize("ship_own_key", [True, False], ids=["forger-key-shipped", "operator-key-left-in"])
def test_a_package_altered_and_re_signed_is_never_valid(genuine, published, tmp_path, ship_own_key):
    forged = tmp_path / "forged.zip"
    forger_fingerprint = forge(genuine, forged, ship_own_key=ship_own_key)

    unpinned = run_script(forged, cwd=tmp_path)
    by_key = run_script(forged, "--public-key", published["pem_path"], cwd=tmp_path)
    by_fingerprint = run_script(forged, "--fingerprint", published["fingerprint"], cwd=tmp_path)
    code, out, _err = verify_export(forged)

    for output in (unpinned.stdout, by_key.stdout, by_fingerprint.stdout, out):
        assert not any(line.startswith("VALID") for line in output.splitlines()), output
    assert by_key.returncode == by_fingerprint.returncode == code == 1
    assert "FAIL  manifest.sig: the manifest signature does not verify with the given key" in by_key.stdout
    assert "FAIL  manifest.sig: the manifest signature does not verify with the given key" in out
    if ship_own_key:
        # Consistent with itself: only the fingerprint, unlike the published one, gives it away.
        assert unpinned.returncode == 3
        assert f"SHA-256 {verify_package.format_fingerprint(forger_fingerprint)}" in unpinned.stdout
        assert published["fingerprint"] not in unpinned.stdout
        differs = "FAIL  operator-public-key.pem: the package's embedded key differs from the pinned key"
        assert differs in by_key.stdout
        assert differs in by_fingerprint.stdout
        assert differs in out
    else:
        assert unpinned.returncode == 1
        assert "manifest signature does not verify with the key inside the package" in unpinned.stdout


def test_every_failure_says_what_failed(genuine, published, tmp_path):
    tampered = rewrite(genuine, tmp_path / "tampered.zip", "messages.csv", lambda data: data[:-3] + b"XYZ")
    bad_signature = rewrite(genuine, tmp_path / "bad-sig.zip", "manifest.json", lambda data: data + b" ")

    content = run_script(tampered, "--public-key", published["pem_path"], cwd=tmp_path)
    signature = run_script(bad_signature, "--public-key", published["pem_path"], cwd=tmp_path)

    assert content.returncode == signature.returncode == 1
    assert "FAIL  messages.csv: content differs from the manifest (SHA-256 " in content.stdout
    assert "OK    conversations.json: SHA-256 and size match" in content.stdout
    assert signature.stdout.count("FAIL") == 1
    assert "FAIL  manifest.sig: the manifest signature does not verify with the given key" in signature.stdout
    for line in (content.stdout + signature.stdout).splitlines():
        assert not line.rstrip().endswith("()"), line
    assert last_line(content.stdout) == "INVALID: 1 problem(s), listed above"


def damage(source: Path, target: Path, name: str) -> Path:
    """One byte of ``name``'s stored data flipped in the file itself (a bad disk, a broken transfer):
    its CRC no longer matches, or its compressed data no longer inflates."""
    raw = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        item = archive.getinfo(name)
    header = item.header_offset  # the local header: 30 bytes, then the name and the extra field
    start = header + 30 + int.from_bytes(raw[header + 26 : header + 28], "little")
    start += int.from_bytes(raw[header + 28 : header + 30], "little")
    raw[start + item.compress_size // 2] ^= 0x40
    target.write_bytes(bytes(raw))
    return target


@pytest.mark.parametrize(
    ("member", "failure"),
    [
        ("messages.csv", "FAIL  messages.csv: damaged in the package, cannot be read ("),
        ("manifest.json", "damaged.zip: damaged, cannot be read ("),
    ],
)
def test_a_damaged_package_is_invalid_and_says_where(genuine, published, tmp_path, member, failure):
    damaged = damage(genuine, tmp_path / "damaged.zip", member)

    result = run_script(damaged, "--public-key", published["pem_path"], cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and not result.stderr, result.stderr
    assert failure in result.stdout
    assert last_line(result.stdout) == "INVALID: 1 problem(s), listed above"


# --- usage -----------------------------------------------------------------------------------------


def test_usage_errors_have_their_own_exit_status(genuine, tmp_path):
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello")

    results = [
        run_script(genuine, "--fingerprint", "12ab", cwd=tmp_path),
        run_script(genuine, "--fingerprint", "zz" * 32, cwd=tmp_path),
        run_script(tmp_path / "missing.zip", cwd=tmp_path),
        run_script(genuine, "--public-key", not_a_key, cwd=tmp_path),
        run_script(genuine, "--public-key", tmp_path / "missing.pem", cwd=tmp_path),
        run_script(genuine, "--public-key", not_a_key, "--fingerprint", "ab" * 32, cwd=tmp_path),
    ]

    assert [result.returncode for result in results] == [2] * len(results)
    assert all("Traceback" not in result.stderr and result.stderr.strip() for result in results)
    assert "64 hexadecimal digits" in results[0].stderr


def test_the_exit_statuses_are_documented_in_the_help_and_the_readme(tmp_path):
    help_text = run_script("--help", cwd=tmp_path).stdout
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()

    for status, word in [(0, "VALID"), (1, "INVALID"), (2, "usage error"), (3, "ORIGIN UNPROVEN")]:
        assert re.search(rf"^\s+{status}\s+{word}", help_text, re.MULTILINE), help_text
        assert re.search(rf"^\| {status} \|.*{word}", readme, re.MULTILINE)
    assert "--fingerprint HEX" in help_text


def test_the_checker_needs_only_python_and_cryptography():
    tree = ast.parse(SCRIPT.read_text())

    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0)
        for alias in node.names
    }

    assert imported - set(sys.stdlib_module_names) == {"cryptography"}


def test_verify_export_without_a_configured_key_says_so_and_needs_a_public_key(genuine, published, settings):
    settings.WARRANTDESK_SIGNING_KEY = ""

    refused = verify_export(genuine)
    pinned = verify_export(genuine, "--public-key", published["pem_path"])

    assert refused[0] == 2
    assert "No operator signing key is configured" in refused[2]
    assert "--public-key" in refused[2]
    assert "VALID" not in refused[1]
    assert pinned[0] == 0 and last_line(pinned[1]).startswith("VALID: ")


# --- where the key is published --------------------------------------------------------------------


def test_the_operator_key_is_published_without_an_account(client):
    public = keys.operator_public_key()
    fingerprint = keys.public_key_fingerprint(public)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    page = client.get("/operator-key/")
    api = client.get("/api/v1/operator-key/")
    pem = client.get("/operator-key/operator-public-key.pem")
    script = client.get("/operator-key/verify_package.py")

    assert fingerprint == hashlib.sha256(der).hexdigest()
    assert page.status_code == 200
    assert keys.format_fingerprint(fingerprint) in page.content.decode()
    assert keys.public_key_pem(public).decode().strip() in page.content.decode()
    assert api.json() == {
        "algorithm": "Ed25519",
        "public_key_pem": keys.public_key_pem(public).decode(),
        "fingerprint_sha256": fingerprint,
        "fingerprint": keys.format_fingerprint(fingerprint),
        "retired_keys": [],  # the keys replaced by a rotation, beside the current one (none here)
    }
    assert pem.content == keys.public_key_pem(public)
    assert pem["Content-Disposition"] == 'attachment; filename="operator-public-key.pem"'
    assert b"".join(script.streaming_content) == SCRIPT.read_bytes()


def test_the_operator_key_page_answers_503_when_no_key_is_configured(client, settings):
    settings.WARRANTDESK_SIGNING_KEY = ""

    page = client.get("/operator-key/")
    api = client.get("/api/v1/operator-key/")
    pem = client.get("/operator-key/operator-public-key.pem")

    assert page.status_code == api.status_code == pem.status_code == 503
    assert "No operator key is configured" in page.content.decode()
    assert api.json()["code"] == "key_unavailable"


def test_the_operator_key_page_speaks_korean(client):
    client.cookies["django_language"] = "ko"

    page = client.get("/operator-key/", HTTP_ACCEPT_LANGUAGE="ko")

    assert "운영자 공개 키" in page.content.decode()


def test_the_report_cover_and_the_manifest_carry_the_published_fingerprint(genuine, published):
    with zipfile.ZipFile(genuine) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        cover = pypdf.PdfReader(io.BytesIO(archive.read("report.pdf"))).pages[0].extract_text()

    assert manifest["operator_key_sha256"] == published["fingerprint_sha256"]
    assert published["fingerprint_sha256"] in "".join(cover.split())
    assert "운영자 서명 키" in cover


# --- the two counts (participants vs everyone pseudonymised) ---------------------------------------


@pytest.fixture
def named_outsider(approved_warrant) -> Account:
    """Someone in no room in scope, named by phone number in a message of the scope."""
    outsider = AccountFactory(uid="outside-77", display_name="Outside Person", phone="010-7777-1234")
    scope = warrant_scope(approved_warrant)
    room = scope.rooms[0].room
    target = next(iter(scope.target_accounts.values()))
    MessageFactory(room=room, sender=target, sent_at=START + dt.timedelta(days=1), body="call 010-7777-1234")
    return outsider


def test_the_package_splits_its_pseudonymised_people_into_participants_and_people_named_in_text(
    approved_warrant, named_outsider, legal_officer, reviewer
):
    non_targets = len(warrant_scope(approved_warrant).non_target_ids)

    export = services.export_run(export=services.export_start(warrant=approved_warrant, actor=legal_officer))
    panel = client_for(reviewer).get(reverse("disclosure:export-panel", args=[approved_warrant.pk])).content.decode()

    counts = export.counts
    assert counts["pseudonymised_participants"] == non_targets
    assert counts["pseudonymised_named_in_text"] >= 1
    assert counts["pseudonymised"] == non_targets + counts["pseudonymised_named_in_text"]
    assert list(counts)[list(counts).index("pseudonymised") + 1 :][:2] == [
        "pseudonymised_participants",
        "pseudonymised_named_in_text",
    ]
    for label, value in [
        ("Pseudonymised people (all)", counts["pseudonymised"]),
        ("of whom participants (sent messages)", non_targets),
        ("of whom only named in message text", counts["pseudonymised_named_in_text"]),
    ]:
        assert re.search(rf"<dt>{re.escape(label)}</dt><dd class=\"num\">{value}</dd>", panel), label
    with package_open(export) as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        cover = pypdf.PdfReader(io.BytesIO(archive.read("report.pdf"))).pages[0].extract_text()
    assert f"가명 처리된 사람(전체) {counts['pseudonymised']}" in cover
    assert f"– 그중 범위 내 메시지 발신자 {non_targets}" in cover
    assert "메시지 본문에서만 언급된 사람" in cover


@pytest.mark.parametrize(
    ("language", "label", "help_text"),
    [
        ("en", "Non-target participants (pseudonymised)", "so its count of pseudonymised people can be higher"),
        ("ko", "대상 외 참여자(가명처리)", "패키지의 가명처리 인원은 이 수보다 많을 수 있습니다"),
    ],
)
def test_the_scope_preview_says_what_its_count_of_non_targets_means(
    approved_warrant, reviewer, language, label, help_text
):
    client = client_for(reviewer)

    with translation.override(language):
        page = client.get(
            reverse("disclosure:warrant-scope", args=[approved_warrant.pk]), HTTP_ACCEPT_LANGUAGE=language
        ).content.decode()

    non_targets = len(warrant_scope(approved_warrant).non_target_ids)
    assert re.search(rf"<dt>{re.escape(label)}</dt><dd class=\"num\">{non_targets}</dd>", page)
    assert help_text in page


# --- identity sheets are named as such -------------------------------------------------------------


@pytest.fixture
def identity_sheet(export, approved_warrant, legal_officer) -> Export:
    """A follow-up with one approved pseudonym (arranged, not decided: the decisions are tested elsewhere)."""
    follow_up = arranged_follow_up(export, legal_officer)
    sheet = services.export_run(export=services.identity_sheet_start(follow_up=follow_up, actor=legal_officer))
    assert sheet.status == Export.Status.READY, sheet.error
    return sheet


def test_an_identity_sheet_downloads_as_identities_not_as_an_export(
    identity_sheet, approved_warrant, legal_officer, client, published, tmp_path
):
    expected = f"{approved_warrant.reference}-F1-identities-{identity_sheet.pk}.zip"
    officer = client_for(legal_officer)

    web = officer.get(reverse("disclosure:export-download", args=[identity_sheet.pk]))
    api = officer.get(f"/api/v1/exports/{identity_sheet.pk}/download/")
    _link, token = services.export_issue_link(export=identity_sheet, actor=legal_officer, recipient="Insp. Kim")
    by_link = client.get(reverse("link-download", args=[token]))

    assert identity_sheet.package.name.endswith(f"/{expected}")
    for response in (web, api, by_link):
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="{expected}"'
    assert DownloadLink.objects.get().used_at is not None
    sheet = tmp_path / expected
    sheet.write_bytes(b"".join(by_link.streaming_content))
    checked = run_script(sheet, "--public-key", published["pem_path"], cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert "identities.pdf: SHA-256 and size match" in checked.stdout


def test_a_conversations_package_still_downloads_as_an_export(export, approved_warrant, legal_officer):
    response = client_for(legal_officer).get(reverse("disclosure:export-download", args=[export.pk]))

    assert response["Content-Disposition"] == (
        f'attachment; filename="{approved_warrant.reference}-export-{export.pk}.zip"'
    )
