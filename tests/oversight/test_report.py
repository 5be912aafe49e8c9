"""The transparency report over a known scenario: every figure, the bands, the outputs, publishing.

Half-year 2026 H1 (1 January - 30 June, Seoul). Eight warrants are received in it from two agencies,
two just outside it; the report is computed on 15 July 2026 (``NOW``) with a retention of 3 days.
"""

import base64
import csv
import datetime as dt
import io
import json
import zoneinfo
from pathlib import Path

import pytest
import time_machine
from django.db.models import F
from django.urls import reverse

from disclosure import keys
from disclosure.models import Delivery, Disclosure, Export, Notification
from oversight import report
from oversight.models import PublishedReport
from oversight.report_views import render_pdf
from requests_app.models import (
    Document,
    FollowUpRequest,
    FollowUpToken,
    SignatureCheck,
    SignatureOutcome,
    Warrant,
    WarrantTarget,
)
from requests_app.workflow import Status
from tests.factories import AgencyFactory
from tests.helpers import client_for, make_account

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
NOW = dt.datetime(2026, 7, 15, 12, 0, tzinfo=SEOUL)
H1 = report.Period.half_year(2026, 1)
SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots" / "report"


def at(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=SEOUL)


class Scene:
    def __init__(self, officer):
        self.officer = officer
        self.number = 0

    def warrant(self, agency, *, received, kind="ORDINARY", status=Status.RECEIVED, beyond=(2, 1), targets=1):
        self.number += 1
        start_days, end_days = beyond
        warrant = Warrant.objects.create(
            reference=f"WD-2026-{self.number:06d}",
            agency=agency,
            warrant_number=f"2026-R-{self.number}",
            court="Seoul Central District Court",
            legal_basis="Criminal Procedure Act art. 215",
            kind=kind,
            received_at=received,
            deadline=received + dt.timedelta(days=7),
            period_start=received - dt.timedelta(days=start_days),
            period_end=received - dt.timedelta(days=end_days),
            status=status,
            created_by=self.officer,
        )
        for n in range(targets):
            WarrantTarget.objects.create(warrant=warrant, identifier=f"target-{self.number}-{n}")
        return warrant

    def check(self, warrant, *outcomes):
        document = Document.objects.create(
            warrant=warrant,
            file="w.pdf",
            original_name="w.pdf",
            sha256="0" * 64,
            size=1,
            content_type="application/pdf",
            uploaded_by=self.officer,
        )
        for minutes, outcome in enumerate(outcomes):
            SignatureCheck.objects.create(
                document=document, outcome=outcome, checked_at=warrant.received_at + dt.timedelta(minutes=minutes)
            )

    def export(self, warrant, rows, *, delivered_after=None, kind=Export.Kind.CONVERSATIONS, follow_up=None):
        export = Export.objects.create(
            warrant=warrant,
            kind=kind,
            follow_up=follow_up,
            requested_by=self.officer,
            status=Export.Status.READY,
            package_sha256="ab" * 32,
        )
        Disclosure.objects.bulk_create(Disclosure(export=export, account=a, role=role) for a, role in rows)
        if delivered_after is not None:
            Delivery.objects.create(
                export=export,
                channel=Delivery.Channel.IN_PERSON,
                recipient="Inspector Han",
                delivered_at=warrant.received_at + delivered_after,
                package_sha256="ab" * 32,
                recorded_by=self.officer,
            )
        return export

    def follow_up(self, warrant, received, status, decisions):
        self.number += 1
        request = FollowUpRequest.objects.create(
            warrant=warrant,
            reference=f"{warrant.reference}-F{self.number}",
            received_at=received,
            deadline=received + dt.timedelta(days=7),
            status=status,
            created_by=self.officer,
        )
        for position, decision in enumerate(decisions, 1):
            FollowUpToken.objects.create(
                request=request,
                position=position,
                token=f"p1.x.{self.number}.{position}",
                justification="Asked",
                validity="VALID",
                decision=decision,
            )
        return request

    def notice(self, warrant, account, status, *, due, deferred_until=None):
        self.number += 1
        return Notification.objects.create(
            warrant=warrant,
            account=account,
            status=status,
            disclosed_at=due - dt.timedelta(days=30),
            due_at=due,
            deferred_until=deferred_until,
            defer_justification="Investigation ongoing" if deferred_until else "",
            message_id=f"<n{self.number}@test>",
            sent_at=due if status == Notification.Status.SENT else None,
        )


@pytest.fixture
def scenario(legal_officer, settings):
    settings.WARRANTDESK_RETENTION_DAYS = 3
    scene = Scene(legal_officer)
    prosecutors = AgencyFactory(code="aa-prosecutors", name="Seoul Prosecutors")
    police = AgencyFactory(code="bb-police", name="National Police")
    t1, t2, t3 = (make_account(f"t{n}", f"Target {n}") for n in (1, 2, 3))
    p1, p2, p3, p4, p5 = (make_account(f"p{n}", f"Bystander {n}") for n in range(1, 6))
    P, T, R = Disclosure.Role.PSEUDONYMISED, Disclosure.Role.TARGET, Disclosure.Role.REVEALED
    A, D = FollowUpToken.Decision.APPROVED, FollowUpToken.Decision.REFUSED

    # Honoured: delivered (4 days), closed (emergency, 2 days), notifying (10 days, period beyond retention).
    w1 = scene.warrant(prosecutors, received=at(2, 1), status=Status.DELIVERED, targets=2)
    scene.export(w1, [(t1, T), (p1, P), (p2, P), (p3, P)], delivered_after=dt.timedelta(days=4))
    scene.export(w1, [(t1, T), (p1, P)], delivered_after=dt.timedelta(days=20))  # p1 again: counted once
    w2 = scene.warrant(prosecutors, received=at(3, 1), kind="EMERGENCY", status=Status.CLOSED)
    scene.export(w2, [(t2, T), (p4, P)], delivered_after=dt.timedelta(days=2))
    w3 = scene.warrant(police, received=at(4, 1), status=Status.NOTIFYING, beyond=(30, 1))  # 27 days gone
    scene.export(w3, [(t3, T), (p1, P)], delivered_after=dt.timedelta(days=10))  # p1 on another warrant
    # Refused: on legal grounds (valid signature at last), for an unsigned document (emergency, period
    # 5 days beyond retention), for a signer who is not the chief.
    w4 = scene.warrant(police, received=at(5, 1), status=Status.REJECTED)
    scene.check(w4, SignatureOutcome.UNSIGNED, SignatureOutcome.VALID)
    w5 = scene.warrant(police, received=at(5, 2), kind="EMERGENCY", status=Status.REJECTED, beyond=(10, 5))
    scene.check(w5, SignatureOutcome.VALID, SignatureOutcome.UNSIGNED)
    w6 = scene.warrant(prosecutors, received=at(5, 3), status=Status.SIGNATURE_FAILED)
    scene.check(w6, SignatureOutcome.NOT_CHIEF)
    # Still open: just received; exported but not delivered (its pseudonymised person is not counted).
    scene.warrant(prosecutors, received=at(6, 30, 23))
    w8 = scene.warrant(police, received=at(6, 1), status=Status.EXPORTED)
    scene.export(w8, [(p5, P)])
    # Outside the half-year, by an hour either way (Seoul time).
    w9 = scene.warrant(police, received=dt.datetime(2025, 12, 31, 23, 0, tzinfo=SEOUL), status=Status.DELIVERED)
    scene.export(w9, [(p5, P)], delivered_after=dt.timedelta(days=1))
    scene.warrant(police, received=dt.datetime(2026, 7, 1, 0, 0, tzinfo=SEOUL))

    # Follow-ups: w1's reveals p1 (its identity sheet delivered); w2's asked-for p4 is refused, yet an
    # undelivered identity sheet naming p4 does not count; w3's is pending; one in July is outside.
    f1 = scene.follow_up(w1, at(2, 10), FollowUpRequest.Status.DISCLOSED, [A, D])
    scene.export(w1, [(p1, R)], kind=Export.Kind.IDENTITIES, follow_up=f1, delivered_after=dt.timedelta(days=15))
    f2 = scene.follow_up(w2, at(3, 10), FollowUpRequest.Status.REFUSED, [D])
    scene.export(w2, [(p4, R)], kind=Export.Kind.IDENTITIES, follow_up=f2)
    scene.follow_up(w3, at(4, 20), FollowUpRequest.Status.IN_REVIEW, [FollowUpToken.Decision.PENDING])
    scene.follow_up(w1, at(7, 5), FollowUpRequest.Status.IN_REVIEW, [FollowUpToken.Decision.PENDING])

    # Notices as of NOW: sent; deferred (still running); overdue; deferred and overdue since its end.
    scene.notice(w1, t1, Notification.Status.SENT, due=NOW - dt.timedelta(days=40))
    scene.notice(
        w1, p1, Notification.Status.DEFERRED, due=NOW - dt.timedelta(days=5), deferred_until=NOW + dt.timedelta(days=10)
    )
    scene.notice(w2, t2, Notification.Status.PENDING, due=NOW - dt.timedelta(days=2))
    scene.notice(
        w3, t3, Notification.Status.DEFERRED, due=NOW - dt.timedelta(days=20), deferred_until=NOW - dt.timedelta(days=1)
    )
    scene.notice(w9, p5, Notification.Status.PENDING, due=NOW - dt.timedelta(days=2))  # outside
    return scene


EXPECTED = {
    "warrants": {
        "received": 8,
        "ordinary": 6,
        "emergency": 2,
        "by_agency": [
            {"agency": "aa-prosecutors", "name": "Seoul Prosecutors", "ordinary": 3, "emergency": 1, "total": 4},
            {"agency": "bb-police", "name": "National Police", "ordinary": 3, "emergency": 1, "total": 4},
        ],
        "honoured": 3,
        "refused_signature": 2,
        "refused_signature_by_reason": {"NOT_CHIEF": 1, "UNSIGNED": 1},
        "refused_legal": 1,
        "open": 2,
    },
    "accounts": {"targets_named": 9, "target_accounts": 3, "pseudonymised": 5, "revealed": 1, "still_pseudonymous": 4},
    "follow_ups": {
        "requests": 3,
        "requests_approved": 1,
        "requests_refused": 1,
        "requests_pending": 1,
        "tokens": 4,
        "tokens_approved": 1,
        "tokens_refused": 2,
        "tokens_pending": 1,
    },
    "notices": {"owed": 4, "sent": 1, "deferred": 2, "overdue": 2},
    "response": {"responses": 3, "median_days": 4.0},
    "retention": {"warrants_beyond": 2, "days_missing": 32.0},
}


def test_every_figure_of_the_half_year_is_computed_from_the_cases(scenario):
    assert report.figures(H1, now=NOW) == EXPECTED


def test_a_range_of_any_dates_counts_only_its_own_warrants(scenario):
    raw = report.figures(report.Period(dt.date(2026, 5, 1), dt.date(2026, 5, 2)), now=NOW)

    assert raw["warrants"]["received"] == 2
    assert raw["warrants"]["refused_legal"] == 1
    assert raw["warrants"]["refused_signature_by_reason"] == {"UNSIGNED": 1}
    assert raw["retention"] == {"warrants_beyond": 1, "days_missing": 5.0}


def test_counts_below_the_threshold_are_bands_and_what_derives_from_them_a_range_or_nothing(scenario):
    shown = report.published(report.figures(H1, now=NOW), threshold=3)

    assert shown["warrants"]["received"] == 8
    assert shown["warrants"]["emergency"] == "0-2"
    assert shown["warrants"]["refused_signature_by_reason"] == {"NOT_CHIEF": "0-2", "UNSIGNED": "0-2"}
    assert shown["accounts"]["pseudonymised_bracket"] == "5 (revealed: 0-2)"
    assert shown["accounts"]["revealed_ratio"] == "0.0-40.0%"  # not 20.0%: that would give the 1 away
    assert shown["response"] == {"responses": 3, "median_days": 4.0}
    assert shown["retention"] == {"warrants_beyond": "0-2", "days_missing": None}


def test_a_period_starting_exactly_at_the_retention_horizon_is_not_beyond_it(legal_officer, settings):
    """``retention_gap``'s rule to the microsecond: beyond means starting before receipt - retention."""
    settings.WARRANTDESK_RETENTION_DAYS = 3
    scene = Scene(legal_officer)
    agency = AgencyFactory()
    at_horizon = scene.warrant(agency, received=at(3, 2), beyond=(3, 1))
    just_before = scene.warrant(agency, received=at(3, 3), beyond=(3, 1))
    Warrant.objects.filter(pk=just_before.pk).update(period_start=F("period_start") - dt.timedelta(microseconds=1))
    at_horizon.refresh_from_db()

    assert at_horizon.period_start == at_horizon.received_at - dt.timedelta(days=3)
    assert report.figures(H1, now=NOW)["retention"] == {"warrants_beyond": 1, "days_missing": 0.0}


def test_with_enough_cases_the_bracket_and_ratio_are_exact():
    raw = {**EXPECTED, "accounts": {**EXPECTED["accounts"], "pseudonymised": 1234, "revealed": 12}}

    shown = report.published(raw, threshold=10)

    assert shown["accounts"]["pseudonymised_bracket"] == "1,234 (revealed: 12)"
    assert shown["accounts"]["revealed_ratio"] == "1.0%"


def _counts(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _counts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _counts(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


@time_machine.travel(NOW, tick=False)
def test_no_raw_count_reaches_any_output_under_the_default_band(scenario, auditor):
    client = client_for(auditor)
    query = {"year": 2026, "half": 1}

    page = client.get(reverse("audit-report"), query)
    data = client.get(reverse("audit-report-json"), query).json()
    rows = list(csv.reader(io.StringIO(client.get(reverse("audit-report-csv"), query).content.decode())))

    assert page.status_code == 200
    figures = {k: v for k, v in data["figures"].items() if k not in ("threshold",)}
    assert list(_counts(figures)) == []  # every count is the band "0-9" or withheld
    assert data["figures"]["accounts"]["pseudonymised_bracket"] == "0-9 (revealed: 0-9)"
    assert {row[2] for row in rows[2:]} <= {"0-9", "–", "0-9 (revealed: 0-9)"}
    html = page.content.decode()
    assert 'data-figure="warrants.received"><th scope="row">Warrants received</th><td class="num">0-9' in html
    assert "<svg" in html and "<script" not in html.split("<main", 1)[-1].split("</main>")[0]


def test_bad_periods_are_refused_with_400(auditor):
    client = client_for(auditor)

    answers = [
        client.get(reverse("audit-report-json"), query).status_code
        for query in (
            {"start": "2026-13-01", "end": "2026-12-31"},
            {"start": "2026-06-01", "end": "2026-01-01"},
            {"start": "2026-01-01"},
            {"year": "x"},
            {"lang": "fr"},
            {"start": "0001-01-01", "end": "0001-01-02"},  # its start in UTC would be in year 0
        )
    ]

    assert answers == [400, 400, 400, 400, 400, 400]


def test_only_auditors_and_administrators_read_the_report(outsider, legal_officer):
    assert client_for(outsider).get(reverse("audit-report")).status_code == 404
    assert client_for(legal_officer).get(reverse("audit-report-json")).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_the_pdf_holds_the_charts_as_text_and_vector_paths(scenario, settings):
    from pypdf import PdfReader

    settings.WARRANTDESK_REPORT_BAND = 3
    pdf = render_pdf(report.report(H1), "ko")

    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    streams = b"".join(_streams(page) for page in reader.pages)
    assert "투명성 보고서" in text or "Transparency report" in text
    assert "Seoul Prosecutors" in text and "5 (revealed: 0-2)" in text
    # Nine bars (two per agency, four outcomes, three kinds of people) and two legend keys, drawn as
    # vector rectangles; the table rules are lines (m/l), so they do not count here.
    assert streams.count(b" re\n") >= 11


def _streams(page) -> bytes:
    data = page["/Contents"].get_object().get_data()
    resources = page.get("/Resources") or {}
    xobjects = resources.get("/XObject") or {}
    for name in xobjects:
        obj = xobjects[name].get_object()
        if obj.get("/Subtype") == "/Form":
            data += obj.get_data()
    return data


@pytest.fixture
def published(scenario, admin_user):
    with time_machine.travel(NOW, tick=False):
        response = client_for(admin_user).post(reverse("audit-report-publish"), {"year": 2026, "half": 1, "lang": "en"})
    assert response.status_code == 302
    return PublishedReport.objects.get()


def test_an_auditor_cannot_publish(scenario, auditor):
    response = client_for(auditor).post(reverse("audit-report-publish"), {"year": 2026, "half": 1})

    assert response.status_code == 404
    assert not PublishedReport.objects.exists()


def test_a_published_report_is_public_signed_and_embeds_the_audit_checkpoint(published, client):
    page = client.get(reverse("transparency-report", args=["2026-h1"]))  # the period's latest version
    document = client.get(reverse("transparency-report-json", args=[published.reference])).content
    signature = client.get(reverse("transparency-report-sig", args=[published.reference])).content

    assert published.reference == "2026-h1-1"
    assert page.status_code == 200
    assert "The signature of this report is valid" in page.content.decode()
    keys.operator_public_key().verify(signature, document)  # raises if it does not verify
    body = json.loads(document)
    assert body["audit"]["kind"] == "checkpoint"
    assert body["audit"]["note"].splitlines()[1] == str(body["audit"]["tree_size"])
    assert body["figures"]["accounts"]["pseudonymised_bracket"] == "0-9 (revealed: 0-9)"
    assert (
        client.get(reverse("transparency-report-pdf", args=[published.reference]))["Content-Type"] == "application/pdf"
    )
    assert client.get(reverse("transparency")).status_code == 200


def test_publishing_is_audited_under_its_own_action_with_a_korean_label(published, admin_user):
    from django.utils import translation

    from warrantdesk.models import AuditAction, AuditEntry

    entry = AuditEntry.objects.get(action=AuditAction.REPORT_PUBLISHED)

    assert entry.actor == admin_user
    assert entry.details["reference"] == published.reference
    assert entry.get_action_display() == "Transparency report published"
    with translation.override("ko"):
        assert entry.get_action_display() == "투명성 보고서 게시"


def test_a_tampered_published_report_fails_its_signature_check(published, client):
    document = json.loads(published.document)
    document["figures"]["warrants"]["received"] = 0
    PublishedReport.objects.filter(pk=published.pk).update(document=report.canonical(document).decode())
    published.refresh_from_db()

    page = client.get(reverse("transparency-report", args=[published.reference]))

    assert not report.signature_valid(published)
    assert "does NOT match" in page.content.decode()
    assert base64.b64decode(published.signature)  # the old signature stays, and no longer fits


def test_an_unknown_published_report_is_404(client, db):
    assert client.get(reverse("transparency-report", args=["2026-h3"])).status_code == 404
    assert client.get(reverse("transparency-report-json", args=["x" * 300])).status_code == 404


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
@pytest.mark.django_db(transaction=True)
def test_the_published_report_renders_in_chromium_without_login_or_javascript(published, live_server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{live_server.url}{reverse('transparency-report', args=[published.reference])}")
            charts = page.locator("figure.report__chart svg")
            assert charts.count() == 3
            assert charts.first.bounding_box()["width"] > 300  # drawn, not an empty box
            assert "0-9 (revealed: 0-9)" in page.inner_text("body")
            page.screenshot(path=str(SHOTS / "published-report.png"), full_page=True)
        finally:
            browser.close()
    assert (SHOTS / "published-report.png").stat().st_size > 10_000
