"""Issue #10.20: a Korean reader reads Korean: signature reasons, status notes with numbers, timeline
labels, the report's aliases and headings, dates; and no English UI phrase is left on the main pages."""

import ast
import datetime as dt
import html
import io
import re
import zipfile
from pathlib import Path

import pypdf
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from demo.generator import generate
from disclosure import services as disclosure_services
from disclosure.exports import pdf
from disclosure.models import Account
from disclosure.packages import package_open
from requests_app import services, signatures, verification
from requests_app.forms import WarrantForm
from requests_app.models import FollowUpRequest, FollowUpToken, SignatureCheck, SignatureOutcome
from requests_app.services import TargetInput, current_warrant_document
from requests_app.signatures.reasons import _revoked_on, _when
from tests.factories import warrant_fields
from tests.helpers import client_for, verify_signature
from warrantdesk import stored_text
from warrantdesk.stored_text import render, template

ROOT = Path(settings.BASE_DIR)
HANGUL = re.compile(r"[가-힣]")
RECEIPT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
KOREAN_SHORT_DATETIME = re.compile(r"\d{4}\. \d{1,2}\. \d{1,2}\. (오전|오후) \d{1,2}:\d{2}")


def expired_reason() -> str:
    """The stored English of an expired signer certificate, as the check writes it."""
    point = signatures.AT_RECEIPT % {"date": _when(RECEIPT)}
    return signatures.HAD_EXPIRED % {
        "who": signatures.THE_SIGNERS_CERTIFICATE,
        "when": signatures.AT_POINT % {"point": point},
        "start": "2024-01-01",
        "end": "2025-01-01",
    }


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(page).split())


# --- the mechanism --------------------------------------------------------------------------------


def test_a_stored_sentence_with_values_is_shown_in_the_readers_language():
    reason = expired_reason()
    revoked = _revoked_on(signatures.THE_SIGNERS_CERTIFICATE, RECEIPT, "keyCompromise", "the moment")
    several = verification.OF_SIGNATURE % {"signature": "Signature1", "reason": reason}

    with translation.override("ko"):
        shown = render(reason)
        shown_revoked = render(revoked)
        shown_several = render(several)
        export_note = render("Export #12")
        person = render("Rejected: the court is not competent.")
    with translation.override("en"):
        english = render(reason)

    assert reason.startswith(
        "The signer's certificate had expired at the warrant's receipt time (2026-11-20 09:00 UTC)"
    )
    assert shown == (
        "서명자의 인증서: 영장 접수 시각(2026. 11. 20. 오후 6:00 (KST)) 기준 이미 만료된 상태였습니다"
        "(유효 기간: 2024. 1. 1. ~ 2025. 1. 1.)."
    )
    assert "(사유: 키 손상)" in shown_revoked and "reason given" not in shown_revoked
    assert shown_several.startswith("서명 “Signature1”: 서명자의 인증서:")
    assert export_note == "제공 패키지 #12"
    assert person == "Rejected: the court is not competent."  # a person's note is shown as typed
    assert english == reason  # English readers see the record as stored


@pytest.mark.parametrize(
    "msgid",
    ["%(a)s: %(b)s", "%(a)s%(b)s happened on the day"],
    ids=["matches-any-text-with-a-colon", "values-next-to-each-other"],
)
def test_a_template_that_could_not_be_told_apart_when_shown_is_refused(msgid):
    with pytest.raises(ValueError):
        template(msgid)


def _fixed_sentences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "gettext_noop"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


def test_every_stored_sentence_and_template_has_a_korean_translation_with_the_same_values():
    """A reason, note or template added without a Korean entry would show English to a Korean reader."""
    sources = [
        *sorted((ROOT / "requests_app/signatures").glob("*.py")),
        ROOT / "requests_app/verification.py",
        ROOT / "disclosure/services.py",
    ]
    msgids = {msgid for path in sources for msgid in _fixed_sentences(path)}
    msgids |= {declared.msgid for declared in stored_text._ordered}
    placeholders = re.compile(r"%\((\w+)\)s")

    with translation.override("ko"):
        missing = sorted(msgid for msgid in msgids if gettext(msgid) == msgid and not msgid.startswith("SHA"))
        mismatched = sorted(
            msgid for msgid in msgids if set(placeholders.findall(gettext(msgid))) != set(placeholders.findall(msgid))
        )

    assert len(msgids) > 60
    assert missing == []
    assert mismatched == []


# --- the warrant page ----------------------------------------------------------------------------


@pytest.fixture
def failed_check(warrant):
    """A stored verdict whose reasons are the English the check writes (an expired certificate)."""
    return SignatureCheck.objects.create(
        document=current_warrant_document(warrant),
        outcome=SignatureOutcome.EXPIRED,
        signer_subject="CN=Chief",
        reasons=[expired_reason(), signatures.NO_REVOCATION_DATA],
    )


def test_the_korean_warrant_page_shows_signature_reasons_in_korean(warrant, legal_officer, failed_check):
    url = reverse("requests_app:warrant-detail", args=[warrant.pk])

    korean = visible_text(client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode())
    english = visible_text(client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode())

    assert "영장 접수 시각(2026. 11. 20. 오후 6:00 (KST)) 기준 이미 만료된 상태였습니다" in korean
    assert "폐지 여부를 확인하지 않았습니다" in korean
    assert "had expired" not in korean and "No revocation data" not in korean
    assert "had expired at the warrant's receipt time (2026-11-20 09:00 UTC)" in english
    assert failed_check.reasons[0].startswith("The signer's certificate had expired")  # the record stays English


def test_numbered_notes_and_timeline_details_are_korean_for_a_korean_reader(warrant, legal_officer, reviewer):
    verify_signature(warrant, actor=legal_officer)
    services.warrant_approve(warrant=warrant, actor=reviewer)
    with translation.override("ko"):  # started from a Korean page: still stored in English
        export = disclosure_services.export_start(warrant=warrant, actor=legal_officer)
    url = reverse("requests_app:warrant-detail", args=[warrant.pk])

    korean = client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    english = client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert warrant.events.filter(note=f"Export #{export.pk}").exists()
    assert f"제공 패키지 #{export.pk}" in korean and f"Export #{export.pk}" not in visible_text(korean)
    assert f"Export #{export.pk}" in english
    # timeline: labels of the detail keys and of their values, not the stored keys
    assert "<dt>크기(바이트)</dt>" in korean and "<dt>size</dt>" not in korean
    assert "<dt>SHA-256</dt>" in korean and "<dt>sha256</dt>" not in korean
    assert re.search(r"<dt>새 상태</dt><dd>[^<]*승인[^<]*</dd>", korean)
    assert "<dd>APPROVED</dd>" not in korean and "<dd>WARRANT</dd>" not in korean
    assert "<dt>size (bytes)</dt>" in english


# --- dates ------------------------------------------------------------------------------------------


def test_dates_are_shown_in_the_readers_format(warrant, legal_officer):
    url = reverse("requests_app:warrant-list")

    korean = client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    english = client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert KOREAN_SHORT_DATETIME.search(visible_text(korean))
    assert not KOREAN_SHORT_DATETIME.search(visible_text(english))
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", visible_text(english))


@pytest.mark.parametrize(
    "typed",
    [
        "2026-12-04T14:30",
        "2026-12-04 14:30",
        "2026. 12. 4. 오후 2:30",
        "2026. 12. 4. 14:30",
        "2026년 12월 4일 14시 30분",
        "2026/12/04 2:30 PM",
    ],
)
@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_date_typed_the_way_either_language_writes_it_is_accepted(typed, language):
    field = WarrantForm.base_fields["received_at"]

    with translation.override(language):
        value = field.widget.value_from_datadict({"received_at": typed}, {}, "received_at")
        parsed = field.clean(value)

    assert (parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute) == (2026, 12, 4, 14, 30)


def test_the_date_fields_say_which_format_to_type_in_the_readers_language(legal_officer):
    url = reverse("requests_app:warrant-create")

    korean = visible_text(client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode())
    english = visible_text(client_for(legal_officer).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode())

    assert "날짜와 시각. 예: 2026-12-04 14:30, 2026. 12. 4. 오후 2:30" in korean
    assert "Date and time, for example 2026-12-04 14:30." in english


# --- the report --------------------------------------------------------------------------------------


def test_a_korean_report_names_participants_in_korean_and_the_package_keeps_stable_aliases(
    legal_officer, reviewer, agency, pdf_upload, settings
):
    settings.WARRANTDESK_REPORT_LANGUAGE = "ko"
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    generate(accounts=20, rooms=3, messages=200, seed=5, start=start, days=20)
    target = Account.objects.filter(messages__isnull=False).distinct().order_by("uid").first()
    warrant = services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", target.uid)],
        upload=pdf_upload(),
        **warrant_fields(agency, period_start=start, period_end=start + dt.timedelta(days=20)),
    )
    services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
    verify_signature(warrant, actor=legal_officer)
    services.warrant_approve(warrant=warrant, actor=reviewer)

    export = disclosure_services.export_run(
        export=disclosure_services.export_start(warrant=warrant, actor=legal_officer)
    )

    with package_open(export) as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        report = " ".join(
            page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(archive.read("report.pdf"))).pages
        )
        conversations = archive.read("conversations.json").decode()
        messages_csv = archive.read("messages.csv").decode()
    report = " ".join(report.split())
    assert "참여자 1" in report and "Participant 1" not in report
    assert "대화 내용 제공 보고서" in report and "가명 대조표" in report and "대화방 1" in report
    assert re.search(r'"alias":\s*"Participant 1"', conversations)  # JSON: stable alias and tokens
    assert "참여자" not in conversations and "참여자" not in messages_csv


def test_the_report_language_falls_back_to_english_and_keeps_unknown_aliases():
    assert pdf.alias_label("Participant 7", "ko") == "참여자 7"
    assert pdf.alias_label("Participant 7", "en") == "Participant 7"
    assert pdf.alias_label("Participant 7", "fr") == "Participant 7"
    assert pdf.alias_label("Someone", "ko") == "Someone"


# --- no English left on the main pages ------------------------------------------------------------------

MAIN_TEMPLATES = (
    "templates/base.html",
    "templates/requests_app/warrant_list.html",
    "templates/requests_app/warrant_detail.html",
    "templates/requests_app/_signature_panel.html",
    "templates/disclosure/followups/_panel.html",
    "templates/disclosure/followups/detail.html",
    "templates/disclosure/_scope_panel.html",
    "templates/disclosure/_export_panel.html",
    "templates/disclosure/notification_list.html",
    "templates/disclosure/notification_table.html",
    "templates/disclosure/notification_row.html",
    "templates/warrantdesk/audit_log.html",
    "templates/includes/signature_verdict.html",
    "templates/includes/pagination.html",
)


def english_ui_phrases() -> list[str]:
    """The translated msgids of the main pages' templates, long enough not to be a name or a code."""
    po = (ROOT / "locale/ko/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    phrases = []
    for block in po.split("\n\n"):
        references = " ".join(line[3:] for line in block.splitlines() if line.startswith("#: "))
        if not any(name in references for name in MAIN_TEMPLATES):
            continue
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if not msgid or not msgstr:
            continue
        source = "".join(ast.literal_eval(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"', msgid.group(1)))
        target = "".join(ast.literal_eval(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"', msgstr.group(1)))
        if target and source != target and "%" not in source and "{" not in source and len(source) >= 12:
            phrases.append(source)
    return phrases


def test_the_main_pages_of_a_case_show_no_english_ui_phrase_to_a_korean_reader(
    warrant, legal_officer, auditor, failed_check
):
    follow_up = FollowUpRequest.objects.create(
        warrant=warrant,
        reference=f"{warrant.reference}-F1",
        received_at=warrant.received_at,
        deadline=warrant.deadline,
        created_by=legal_officer,
    )
    FollowUpToken.objects.create(
        request=follow_up, position=1, token="p1.00000000.aaaa", justification="Arranged", validity="VALID"
    )
    # the page's phrases, and the sentences the signature check stores (shown through stored_text)
    phrases = english_ui_phrases() + [
        msgid
        for path in sorted((ROOT / "requests_app/signatures").glob("*.py"))
        for msgid in _fixed_sentences(path)
        if len(msgid) >= 30
    ]
    pages = {
        "list": (legal_officer, reverse("requests_app:warrant-list")),
        "detail": (legal_officer, reverse("requests_app:warrant-detail", args=[warrant.pk])),
        "follow-up": (legal_officer, reverse("followups:detail", args=[follow_up.pk])),
        "notifications": (legal_officer, reverse("disclosure:notification-list")),
        "audit log": (auditor, reverse("audit-log")),
    }

    leftovers = {}
    for name, (user, url) in pages.items():
        response = client_for(user).get(url, HTTP_ACCEPT_LANGUAGE="ko")
        assert response.status_code == 200, name
        text = visible_text(response.content.decode())
        assert HANGUL.search(text), name
        found = [phrase for phrase in phrases if phrase in text]
        if found:
            leftovers[name] = found

    assert len(phrases) > 100  # the list is real, so the test cannot pass by having nothing to look for
    assert leftovers == {}
