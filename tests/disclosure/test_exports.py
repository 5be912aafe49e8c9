"""The export package, end to end on a generated store: what leaves the operator, file by file."""

import csv
import datetime as dt
import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

import pypdf
import pytest
from django.core.management import call_command
from django.urls import reverse

from disclosure import keys, pseudonyms, services
from disclosure.exports import layout
from disclosure.exports import package as exports
from disclosure.models import Account, Disclosure, DownloadLink, Export, Membership, Message, Room
from disclosure.packages import package_open
from disclosure.scope import warrant_scope
from requests_app import services as warrant_services
from requests_app.models import Warrant
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests.factories import AccountFactory, MembershipFactory, MessageFactory, RoomFactory, warrant_fields
from tests.helpers import client_for, run_export, verify_signature
from warrantdesk.models import AuditAction, AuditEntry

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # the store's first day (tests/disclosure/conftest.py)


def package_texts(export: Export) -> dict[str, str]:
    with package_open(export) as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        texts = {}
        for name in archive.namelist():
            data = archive.read(name)
            if name.endswith(".pdf"):
                reader = pypdf.PdfReader(io.BytesIO(data))
                texts[name] = "\n".join(page.extract_text() or "" for page in reader.pages)
            else:
                texts[name] = data.decode()
        return texts


def non_targets_in_reach(warrant: Warrant) -> list[Account]:
    """Everyone the package could betray: participants and members of the rooms in scope."""
    scope = warrant_scope(warrant)
    rooms = [item.room.pk for item in scope.rooms]
    member_ids = Membership.objects.filter(room_id__in=rooms).values_list("account_id", flat=True)
    ids = (scope.participant_ids | set(member_ids)) - set(scope.target_accounts)
    return list(Account.objects.filter(pk__in=ids))


def test_the_package_discloses_targets_and_nobody_else(approved_warrant, legal_officer):
    export = run_export(approved_warrant, legal_officer)

    assert export.status == Export.Status.READY, export.error
    texts = package_texts(export)
    assert {"manifest.json", "manifest.sig", "conversations.json", "messages.csv"} <= set(texts)
    assert any(name.startswith("report") and name.endswith(".pdf") for name in texts)
    everything = "\n".join(texts.values())
    scope = warrant_scope(approved_warrant)
    for target in scope.target_accounts.values():
        assert target.uid in texts["conversations.json"]
        assert target.display_name in texts["conversations.json"]
    outsiders = non_targets_in_reach(approved_warrant)
    assert outsiders, "the generated scope has non-targets"
    # A non-target called "영희" may stand inside a target's own name "윤영희": that is the target's.
    without_targets = everything
    for target in scope.target_accounts.values():
        without_targets = without_targets.replace(target.display_name, "<target>")
    for person in outsiders:
        assert person.uid not in everything, person.uid
        assert person.display_name not in without_targets, person.display_name
        if person.email:
            assert person.email.lower() not in everything.lower(), person.email
        if person.phone:
            digits = re.sub(r"\D", "", person.phone)
            assert person.phone not in everything
            assert digits not in re.sub(r"[^\d\n]", "", everything), person.phone


def test_every_message_in_scope_is_there_under_the_right_sender(approved_warrant, legal_officer):
    export = run_export(approved_warrant, legal_officer)

    data = json.loads(package_texts(export)["conversations.json"])
    scope = warrant_scope(approved_warrant)
    key_id, key = keys.case_key(approved_warrant)
    exported = {m["id"]: m["sender"] for room in data["rooms"] for m in room["messages"]}
    expected = dict(scope.messages().values_list("pk", "sender__uid"))
    assert set(exported) == set(expected)
    for message_id, uid in expected.items():
        sender = exported[message_id]
        if sender["type"] == "target":
            assert sender["uid"] == uid
        else:
            assert pseudonyms.reidentify(sender["token"], scope=approved_warrant.reference, keys={key_id: key}) == uid
    assert export.counts["messages"] == len(expected)


def test_disclosure_rows_record_who_appeared_and_how(approved_warrant, legal_officer):
    export = run_export(approved_warrant, legal_officer)

    roles = dict(Disclosure.objects.filter(export=export).values_list("account__uid", "role"))
    scope = warrant_scope(approved_warrant)
    for target in scope.target_accounts.values():
        assert roles[target.uid] == Disclosure.Role.TARGET
    assert Disclosure.Role.PSEUDONYMISED in roles.values()
    approved_warrant.refresh_from_db()
    assert approved_warrant.status == Status.EXPORTED


def test_verify_export_passes_and_names_the_file_after_one_byte_changes(
    approved_warrant, legal_officer, tmp_path, capsys
):
    export = run_export(approved_warrant, legal_officer)
    package = tmp_path / "package.zip"
    with package_open(export) as handle:
        package.write_bytes(handle.read())

    call_command("verify_export", str(package))
    assert "VALID" in capsys.readouterr().out

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(tampered, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "messages.csv":
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            target.writestr(item, data)
    with pytest.raises(SystemExit):
        call_command("verify_export", str(tampered))
    out = capsys.readouterr().out
    assert "FAIL  messages.csv: content differs from the manifest" in out
    assert "conversations.json: SHA-256 and size match" in out


def test_a_forged_manifest_fails_the_signature(approved_warrant, legal_officer, tmp_path, capsys):
    export = run_export(approved_warrant, legal_officer)
    forged = tmp_path / "forged.zip"
    with package_open(export) as handle:
        original = io.BytesIO(handle.read())
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(forged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "manifest.json":
                data = data.replace(b'"messages"', b'"messages" ', 1)
            target.writestr(item, data)

    with pytest.raises(SystemExit):
        call_command("verify_export", str(forged))

    assert "FAIL  manifest.sig: the manifest signature does not verify with the given key" in capsys.readouterr().out


def test_no_export_without_a_kek_and_nothing_changes(approved_warrant, legal_officer, settings):
    settings.WARRANTDESK_KEKS = []

    with pytest.raises(keys.KeyUnavailable, match="No key-encryption key"):
        services.export_start(warrant=approved_warrant, actor=legal_officer)

    approved_warrant.refresh_from_db()
    assert approved_warrant.status == Status.APPROVED
    assert not Export.objects.exists()


def test_a_failed_export_shows_its_reason_and_can_be_retried(approved_warrant, legal_officer, monkeypatch, settings):
    from disclosure.exports import package as exports

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(exports, "_write_report", explode)
    failed = run_export(approved_warrant, legal_officer)
    monkeypatch.undo()

    assert failed.status == Export.Status.FAILED
    assert "internal error (RuntimeError)" in failed.error
    assert not failed.package
    approved_warrant.refresh_from_db()
    assert approved_warrant.status == Status.APPROVED
    exports_dir = settings.MEDIA_ROOT / "exports"
    assert [p.name for p in exports_dir.rglob("*") if p.is_file()] == [], "no half-written package is left"
    retried = services.export_run(export=services.export_retry(warrant=approved_warrant, actor=legal_officer))
    assert retried.status == Export.Status.READY
    assert AuditEntry.objects.filter(action=AuditAction.EXPORT_FAILED).count() == 1


def test_the_page_shows_progress_and_the_package_downloads_for_assigned_officers(
    approved_warrant, legal_officer, reviewer, outsider
):
    client = client_for(legal_officer)
    client.post(reverse("disclosure:export-start", args=[approved_warrant.pk]))
    export = Export.objects.get()

    running = client.get(reverse("disclosure:export-panel", args=[approved_warrant.pk])).content.decode()
    services.export_run(export=export)
    download = client_for(reviewer).get(reverse("disclosure:export-download", args=[export.pk]))
    refused = client_for(outsider).get(reverse("disclosure:export-download", args=[export.pk]))

    assert 'hx-trigger="every 2s"' in running and "<progress" in running
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert refused.status_code == 404
    assert AuditEntry.objects.filter(action=AuditAction.EXPORT_DOWNLOADED, actor=reviewer).count() == 1


def test_a_recorded_hand_over_delivers_the_warrant(approved_warrant, legal_officer):
    export = run_export(approved_warrant, legal_officer)

    delivery = services.export_record_delivery(
        export=export, actor=legal_officer, channel="IN_PERSON", recipient="Insp. Yoon, SCDPO"
    )

    approved_warrant.refresh_from_db()
    assert approved_warrant.status == Status.DELIVERED
    assert delivery.package_sha256 == export.package_sha256


def test_a_one_time_link_works_once_and_expires(approved_warrant, legal_officer, client, time_machine):
    export = run_export(approved_warrant, legal_officer)
    _link, token = services.export_issue_link(export=export, actor=legal_officer, recipient="Insp. Yoon", hours=72)
    url = reverse("link-download", args=[token])

    first = client.get(url)
    second = client.get(url)

    assert first.status_code == 200
    assert b"".join(first.streaming_content)[:2] == b"PK"
    assert second.status_code == 404
    assert "already been used" in second.content.decode()
    assert token not in "".join(str(e.details) for e in AuditEntry.objects.all())
    approved_warrant.refresh_from_db()
    assert approved_warrant.status == Status.DELIVERED
    other_link, other_token = services.export_issue_link(export=export, actor=legal_officer, recipient="B", hours=1)
    time_machine.move_to(other_link.expires_at + dt.timedelta(seconds=1))
    assert "expired" in client.get(reverse("link-download", args=[other_token])).content.decode()
    assert DownloadLink.objects.filter(used_at__isnull=False).count() == 1


def _squeezed(text: str) -> str:
    from disclosure.directory import squeeze

    return squeeze(text)


def test_identities_named_in_any_spelling_leave_in_no_file(approved_warrant, legal_officer):
    """The scan's four findings as a class: account IDs typed in text, names of people outside every room
    in scope, phone numbers and RRNs spelled as Korean users type them; in JSON, CSV and PDF alike."""
    scope = warrant_scope(approved_warrant)
    target = next(iter(scope.target_accounts.values()))
    member = non_targets_in_reach(approved_warrant)[0]
    outsider = AccountFactory(
        uid="park.js77", display_name="박지성", phone="010-2345-7777", email="jisung.park@example.kr"
    )
    writer = AccountFactory(uid="ohart_01", display_name="Olivia Hart")
    anchor = scope.messages().filter(sender=target).order_by("sent_at").first()
    national = outsider.phone_normalized.removeprefix("+82")
    member_name = " ".join(member.display_name.replace(" ", ""))  # "김 민 준" / "K i m ..."
    bodies = [
        f"박 지 성 {'ㅡ'.join(['010', national[2:6], national[6:]])} 한테 물어봐",  # name and number, spaced
        f"0082-10-{national[2:6]}-{national[6:]} 으로 연락, 메일 JISUNG.PARK@EXAMPLE.KR",
        "아이디 ＰＡＲＫ．ＪＳ７７ 추가해줘, ask OLIVIA  HART or ohart_01",
        f"{member_name}한테 {member.uid.upper()} 물어봐",
        "주민번호 900101 - 1234567, 또 900101 1234567",
        f"me: {target.display_name} ({target.uid})",
    ]
    for offset, body in enumerate(bodies, start=1):
        Message.objects.create(
            room=anchor.room, sender=target, sent_at=anchor.sent_at + dt.timedelta(microseconds=offset), body=body
        )

    export = run_export(approved_warrant, legal_officer)

    assert export.status == Export.Status.READY, export.error
    texts = package_texts(export)
    files = {name: text for name, text in texts.items() if name.endswith((".json", ".csv", ".pdf"))}
    assert {"conversations.json", "messages.csv"} <= set(files) and any(n.endswith(".pdf") for n in files)
    for name, text in files.items():
        if name == "manifest.json":
            continue
        squeezed, digits = _squeezed(text), re.sub(r"\D", "", text)
        for person in (outsider, writer, member):
            assert _squeezed(person.uid) not in squeezed, (name, person.uid)
            name_part = person.display_name.replace(target.display_name, "")
            assert not name_part or _squeezed(name_part) not in squeezed.replace(_squeezed(target.display_name), ""), (
                name,
                person.display_name,
            )
        assert national not in digits and "1234567" not in digits, name
        assert "jisung.park" not in text.lower(), name
    assert target.uid in texts["conversations.json"] and target.display_name in texts["messages.csv"]
    key_id, key = keys.case_key(approved_warrant)
    tokens = {
        person["token"]: person["alias"]
        for person in json.loads(texts["conversations.json"])["participants"]["pseudonymised"]
    }
    uids = {pseudonyms.reidentify(t, scope=approved_warrant.reference, keys={key_id: key}) for t in tokens}
    assert {"park.js77", "ohart_01"} <= uids, "people found only in text are counted and listed"
    pdf_text = _squeezed("".join(text for name, text in texts.items() if name.endswith(".pdf")))
    for found_in_text in ("park.js77", "ohart_01"):
        found_token = next(
            t
            for t in tokens
            if pseudonyms.reidentify(t, scope=approved_warrant.reference, keys={key_id: key}) == found_in_text
        )
        assert _squeezed(found_token) in pdf_text, "the PDF's alias table lists them too"
    roles = dict(Disclosure.objects.filter(export=export).values_list("account__uid", "role"))
    assert roles["park.js77"] == roles["ohart_01"] == Disclosure.Role.PSEUDONYMISED


# --- messages.csv read back -------------------------------------------------------------------------

AWKWARD_TEXTS = [
    'She said "hi", then "bye"',
    "one, two, three",
    "first line\nsecond line",
    "windows line\r\nnext",
    "lone\rcarriage return",
    "emoji 😀👍🏽 and a flag 🇰🇷",
    "한국어 메시지입니다, 정말로",
    "tab\tinside",
    "controls \x01\x02\x07\x08\x0b\x0c\x1b\x7f end",
    '=HYPERLINK("http://evil.example","click")',
    "+1+2",
    "-2+3",
    "-_- whatever",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\tleading tab",
    "\rleading carriage return",
    "'=already quoted formula",
    "'plain quote",
    "",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def awkward_conversation(db, legal_officer, reviewer, agency, pdf_upload):
    """A target whose own name starts a formula, and a bystander, each sending awkward text in one room."""
    target = AccountFactory(uid="u-awkward", display_name="=cmd|' /C calc'!A0")
    bystander = AccountFactory(uid="u-bystander", display_name="Plain Bystander")
    room = RoomFactory(external_id="awkward", kind=Room.Kind.GROUP, title='-title, "quoted"')
    for account in (target, bystander):
        MembershipFactory(room=room, account=account, joined_at=START)
    for index, text in enumerate(AWKWARD_TEXTS):
        MessageFactory(
            room=room,
            sender=target if index % 2 == 0 else bystander,
            sent_at=START + dt.timedelta(hours=1 + index),
            body=text,
        )
    warrant = warrant_services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", target.uid)],
        upload=pdf_upload(),
        **warrant_fields(agency, period_start=START, period_end=START + dt.timedelta(days=2)),
    )
    warrant_services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
    verify_signature(warrant, actor=legal_officer)
    return warrant_services.warrant_approve(warrant=warrant, actor=reviewer)


def test_messages_csv_reads_back_with_csv_reader_and_starts_no_formula(awkward_conversation, legal_officer):
    export = run_export(awkward_conversation, legal_officer)

    assert export.status == Export.Status.READY, export.error
    with package_open(export) as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        rows = list(csv.reader(io.StringIO(archive.read("messages.csv").decode(), newline="")))
        conversations = json.loads(archive.read("conversations.json"))
    header, body = rows[0], rows[1:]
    assert header == ["room", "sent_at", "sender", "sender_label", "kind", "text"]
    assert len(body) == len(AWKWARD_TEXTS)
    assert all(len(row) == len(header) for row in body)
    # The text round-trips exactly, but for the OWASP "'" before what a spreadsheet would read as a formula.
    expected = ["'" + text if text.lstrip("'").startswith(FORMULA_START) else text for text in AWKWARD_TEXTS]
    assert [row[5] for row in body] == expected
    assert [exports.csv_cell_text(row[5]) for row in body] == AWKWARD_TEXTS
    target_labels = {row[3] for row in body if row[2] == "u-awkward"}
    assert target_labels == {"'=cmd|' /C calc'!A0"}
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULA_START), row
    # The JSON keeps the exact text and name.
    [room] = conversations["rooms"]
    assert [message["text"] for message in room["messages"]] == AWKWARD_TEXTS
    assert room["messages"][0]["sender"]["name"] == "=cmd|' /C calc'!A0"
    # The report, rendered from messages.csv, shows the texts and the name without the quote too.
    report = "\n".join(text for name, text in package_texts(export).items() if name.endswith(".pdf"))
    assert "=HYPERLINK(" in report and "'=HYPERLINK(" not in report
    assert "=cmd|' /C calc'!A0" in report and "'=cmd|" not in report


def test_the_csv_neutralising_quote_comes_off_again_for_every_text():
    texts = [*AWKWARD_TEXTS, "'", "''", "'''=x", "''-", "=", "x=1", " =1", "'\t"]

    for text in texts:
        row = next(csv.reader(io.StringIO(exports._csv_field(text) + "\r\n", newline="")))
        cell = row[0] if row else ""
        assert exports.csv_cell_text(cell) == text
        assert not cell.startswith(FORMULA_START)


def test_the_alias_table_reads_back_as_written_with_awkward_names(awkward_conversation, legal_officer):
    """The one reader of the alias table (layout.read_participants) gives back exactly the block the
    writer wrote, whatever the names: a target named like a formula with quotes, commas and a pipe."""
    AccountFactory(uid='u-"quoted", \\back', display_name='],"participants":{"targets":[ 😀\n')
    export = run_export(awkward_conversation, legal_officer)

    assert export.status == Export.Status.READY, export.error
    with package_open(export) as handle:
        written = json.loads(zipfile.ZipFile(io.BytesIO(handle.read())).read(layout.CONVERSATIONS))
    with package_open(export) as handle:
        read = layout.read_participants(handle)
    assert read == written[layout.PARTICIPANTS]
    assert [t["name"] for t in read[layout.TARGETS]] == ["=cmd|' /C calc'!A0"]
    assert [p["alias"] for p in read[layout.PSEUDONYMISED]] == ["Participant 1"]
    with tempfile.TemporaryDirectory() as private:  # a path works as well as a file
        plain = Path(private) / "package.zip"
        with package_open(export) as handle:
            plain.write_bytes(handle.read())
        assert layout.read_participants(plain) == read


def test_the_rows_carry_sent_at_as_utc_iso_text_made_by_the_database(approved_warrant):
    """The export's queries give ``sent_at`` as the text the package holds (``datetime.isoformat()`` in UTC,
    microseconds only when not zero), on SQLite and PostgreSQL: no datetime per row to make, pickle
    between the reader and the export process, and format again."""
    scope = warrant_scope(approved_warrant)
    messages = list(scope.messages().order_by("sent_at", "pk"))
    assert len(messages) >= 3
    middle = messages[len(messages) // 2]
    Message.objects.filter(pk=middle.pk).update(sent_at=middle.sent_at.replace(microsecond=0))  # same day, in scope
    Message.objects.filter(pk=messages[-1].pk).update(sent_at=messages[-1].sent_at.replace(microsecond=123))
    stored = dict(scope.messages().values_list("pk", "sent_at"))
    assert any(moment.microsecond == 0 for moment in stored.values())
    assert any(moment.microsecond for moment in stored.values())

    rows = [row for batch in exports._batches(scope) for row in batch]

    assert len(rows) == len(stored)
    for pk, _room, _sender, sent_at, _kind, _text in rows:
        assert type(sent_at) is str
        assert sent_at == stored[pk].astimezone(dt.UTC).isoformat()


def test_a_phone_number_or_address_of_no_account_is_answered_without_the_database(approved_warrant, monkeypatch):
    """The export's look-up of accounts mentioned in text asks the database only for a value some
    account has (its hash is among the accounts' own): a round trip per unknown value cost a quarter of
    the pass on PostgreSQL. A known value is still found, and asked once however it is written."""
    from django.db import connection

    scope = warrant_scope(approved_warrant)
    known = AccountFactory(phone="010-2345-6789", email="known.person@mail.example")
    pseudonymiser = exports.Pseudonymiser(scope, key_id="k", key=b"k" * 32)
    lookup = exports._lookup_factory(pseudonymiser, {})

    def no_database():
        raise AssertionError("the look-up asked the database")

    with monkeypatch.context() as patched:
        patched.setattr(connection, "ensure_connection", no_database)
        assert lookup("phone", "010-9876-5432") is None
        assert lookup("email", "nobody.at.all@mail.example") is None
    person = lookup("phone", "010 2345 6789")
    assert person is not None and person.uid == known.uid
    assert lookup("email", "Known.Person@mail.example").uid == known.uid
    # The same number written another way is not asked again: the answer stays that of the first question.
    Account.objects.filter(pk=known.pk).delete()
    assert lookup("phone", "+82 10-2345-6789").uid == known.uid


def test_the_accounts_a_batch_names_by_phone_or_address_are_asked_at_once_and_the_package_is_the_same(
    approved_warrant, monkeypatch, tmp_path
):
    """The phone numbers and addresses of accounts outside the participants that a batch's texts name are
    asked in one question before the batch is redacted (a round trip per value was about 1.5 s of the
    1,000,000-message pass on PostgreSQL). The files are byte for byte those of the look-up per value,
    pseudonyms and their aliases' numbering (order of first appearance) included; a number two accounts
    share is still asked alone, as before."""
    monkeypatch.setattr(exports, "_write_report", lambda *args, **kwargs: [])  # the files, not the PDF
    monkeypatch.setattr(exports, "BATCH", 40)  # several batches, values first named in later ones
    scope = warrant_scope(approved_warrant)
    target = next(iter(scope.target_accounts.values()))
    outsiders = [AccountFactory(phone=f"010-2468-{n:04d}", email=f"outsider.{n}@mail.example") for n in range(6)]
    AccountFactory.create_batch(2, phone="010-1357-9753")  # one number, two accounts
    anchors = list(scope.messages().filter(sender=target).order_by("sent_at")[:3])
    bodies = [
        "물어봐 010-2468-0003 아니면 outsider.1@mail.example",
        "+82 10 2468 0000, OUTSIDER.5@MAIL.EXAMPLE 그리고 010-1357-9753",
        "번호 ０１０－２４６８－０００２, 없는 번호 010-9876-5432, nobody@mail.example",
        "01024680004 or 010 2468 0003, mail outsider.4@mail.example",
    ]
    for offset, body in enumerate(bodies):
        anchor = anchors[offset % len(anchors)]
        Message.objects.create(
            room=anchor.room, sender=target, sent_at=anchor.sent_at + dt.timedelta(microseconds=offset + 1), body=body
        )
    asked_alone = []
    ask_one = exports._Lookup.ask_one
    monkeypatch.setattr(
        exports._Lookup, "ask_one", lambda lookup, *args: asked_alone.append(args[1]) or ask_one(lookup, *args)
    )

    def files(out: Path) -> dict[str, bytes]:
        out.mkdir()
        built = exports.build_package(warrant_scope(approved_warrant), out_dir=out)
        with zipfile.ZipFile(built.path) as archive:
            return {name: archive.read(name) for name in (layout.CONVERSATIONS, layout.MESSAGES_CSV)}

    at_once = files(tmp_path / "at-once")
    assert asked_alone == ["+821013579753"]
    asked_alone.clear()
    monkeypatch.setattr(exports._Lookup, "prefetch", lambda lookup, contacts: None)
    one_by_one = files(tmp_path / "one-by-one")
    assert len(asked_alone) > len(outsiders)

    assert at_once == one_by_one
    key_id, key = keys.case_key(approved_warrant)
    named = {
        pseudonyms.reidentify(person["token"], scope=approved_warrant.reference, keys={key_id: key})
        for person in json.loads(at_once[layout.CONVERSATIONS])["participants"]["pseudonymised"]
    }
    assert {account.uid for account in outsiders} <= named


def test_the_pass_reports_how_far_it_is_at_most_every_progress_seconds_and_at_its_end(
    approved_warrant, monkeypatch, tmp_path
):
    """A report is an UPDATE of the export's row committed at once: one a batch cost about 0.6 s of the
    1,000,000-message pass."""
    monkeypatch.setattr(exports, "_write_report", lambda *args, **kwargs: [])
    monkeypatch.setattr(exports, "BATCH", 10)
    total = warrant_scope(approved_warrant).message_count

    def reports(seconds: float, out: Path) -> list[tuple]:
        monkeypatch.setattr(exports, "PROGRESS_SECONDS", seconds)
        made: list[tuple] = []
        exports.build_package(
            warrant_scope(approved_warrant), out_dir=out, progress=lambda *report: made.append(report)
        )
        return [report for report in made if report[0] == "messages"]

    assert reports(3600, tmp_path / "hour") == [("messages", 0, total), ("messages", total, total)]
    every_batch = reports(0, tmp_path / "always")
    assert len(every_batch) > total // 10 and every_batch[-1] == ("messages", total, total)


def test_the_files_are_the_same_whatever_the_rows_written_at_a_time(approved_warrant, monkeypatch, tmp_path):
    """The pass writes its JSON and CSV WRITE_ROWS rows at a time (the export process's memory): the
    files do not depend on it, also when a write falls inside a room or a batch."""
    monkeypatch.setattr(exports, "_write_report", lambda *args, **kwargs: [])  # the files, not the PDF

    def files(rows_at_a_time: int, out: Path) -> dict[str, bytes]:
        monkeypatch.setattr(exports, "WRITE_ROWS", rows_at_a_time)
        out.mkdir()
        built = exports.build_package(warrant_scope(approved_warrant), out_dir=out)
        with zipfile.ZipFile(built.path) as archive:
            return {name: archive.read(name) for name in (layout.CONVERSATIONS, layout.MESSAGES_CSV)}

    whole = files(exports.WRITE_ROWS, tmp_path / "whole")
    assert whole[layout.MESSAGES_CSV].count(b"\r\n") > 3
    assert files(2, tmp_path / "two") == whole
    assert files(1, tmp_path / "one") == whole
