"""The audit log for auditors: full-text search, topics, after-hours, saved filters in the URL, and
CSV/JSON exports of the filtered view that hold no message, identity or address."""

import csv
import io
import json

import time_machine
from django.urls import reverse

from tests.helpers import client_for
from tests.oversight.conftest import NOW, SECRETS
from warrantdesk.audit import audit_record
from warrantdesk.filters import TOPICS
from warrantdesk.models import AuditAction, AuditEntry


def log(user, query=None, **headers):
    with time_machine.travel(NOW, tick=False):
        return client_for(user).get(reverse("audit-log"), query or {}, **headers)


def shown(response) -> list[int]:
    return [entry.seq for entry in response.context["page"].object_list]


def test_search_finds_words_in_the_details_korean_included(scenario, auditor, admin_user):
    renamed = audit_record(
        action=AuditAction.REGISTRY_CHANGED,
        actor=admin_user,
        details={"field": "name", "agency": "서울중앙지검 형사부"},
    )

    response = log(auditor, {"q": "중앙지검"})

    assert shown(response) == [renamed.seq]


def test_search_finds_an_action_by_its_label_in_the_readers_language(scenario, auditor):
    assigned = AuditEntry.objects.filter(action=AuditAction.WARRANT_ASSIGNED).order_by("-seq")

    english = log(auditor, {"q": "officer assigned"})
    korean = log(auditor, {"q": "담당자 지정"}, HTTP_ACCEPT_LANGUAGE="ko")

    assert shown(english) == [entry.seq for entry in assigned]
    assert shown(korean) == [entry.seq for entry in assigned]


def test_search_combines_with_the_other_filters(scenario, auditor):
    police = scenario.warrants["police"].reference

    response = log(auditor, {"q": police, "actor": "bob"})

    expected = AuditEntry.objects.filter(warrant_ref=police, actor_label="bob").order_by("-seq")
    assert shown(response) == [entry.seq for entry in expected]
    assert expected.exists()


def test_a_topic_shows_its_actions_only(scenario, auditor):
    response = log(auditor, {"topic": "approvals"})

    actions = {entry.action for entry in response.context["page"].object_list}
    assert actions and actions <= set(TOPICS["approvals"][1])


def test_after_hours_only_shows_the_actions_outside_working_hours(scenario, auditor):
    response = log(auditor, {"after_hours": "1", "actor": "alice"})

    assert len(shown(response)) == scenario.night_entries_by_alice
    assert shown(log(auditor, {"after_hours": "1", "actor": "dave"})) == []


def test_an_unknown_topic_is_refused_with_no_entry(scenario, auditor):
    response = log(auditor, {"topic": "everything"})

    assert response.status_code == 400
    assert "topic" in response.context["filter_form"].errors
    assert list(response.context["page"].object_list) == []


def test_the_filters_live_in_the_address_as_a_link_to_keep(scenario, auditor):
    query = {"q": "approved", "topic": "approvals", "after_hours": "1"}

    html = log(auditor, query).content.decode()

    saved = "http://testserver/audit/?q=approved&amp;topic=approvals&amp;after_hours=1"
    assert f'value="{saved}"' in html
    assert 'href="/audit/export.json?q=approved&amp;topic=approvals&amp;after_hours=1"' in html
    assert 'href="/audit/export.csv?q=approved&amp;topic=approvals&amp;after_hours=1"' in html


def _download(auditor, name, query):
    with time_machine.travel(NOW, tick=False):
        response = client_for(auditor).get(reverse(name), query)
    return response, b"".join(response.streaming_content).decode()


def test_the_json_export_holds_the_filtered_entries_and_is_recorded(scenario, auditor):
    first = scenario.warrants["first"].reference
    expected = [entry.seq for entry in AuditEntry.objects.filter(warrant_ref=first).order_by("seq")]

    response, body = _download(auditor, "audit-export-json", {"warrant": first})

    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = json.loads(body)
    assert [row["seq"] for row in rows] == expected
    assert set(rows[0]) == {"seq", "at", "actor", "action", "warrant", "object_type", "object_id", "ip"} | {
        "details",
        "prev_hash",
        "hash",
    }
    recorded = AuditEntry.objects.filter(action=AuditAction.AUDIT_EXPORTED).latest("seq")
    assert (recorded.actor_label, recorded.details) == ("audrey", {"warrant": first, "format": "json"})


def test_the_exports_of_the_whole_log_hold_no_message_identity_or_address(scenario, auditor):
    total = AuditEntry.objects.count()

    _csv_response, csv_body = _download(auditor, "audit-export", {})
    _json_response, json_body = _download(auditor, "audit-export-json", {})

    assert len(list(csv.reader(io.StringIO(csv_body)))) - 1 >= total
    assert len(json.loads(json_body)) >= total
    for secret in SECRETS:
        assert secret not in csv_body
        assert secret not in json_body
        assert json.dumps(secret)[1:-1] not in json_body  # nor escaped


def test_the_case_page_shows_the_process_and_no_secret(scenario, auditor):
    first = scenario.warrants["first"]

    with time_machine.travel(NOW, tick=False):
        response = client_for(auditor).get(reverse("audit-case", args=[first.reference]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Not a chief investigator" in html or "Signer is not a chief investigator" in html
    assert "Reveal decisions" in html and f"{first.reference}-F1" in html
    assert html.count('class="badge badge--decision-approved"') == 1
    for secret in SECRETS:
        assert secret not in html
    assert "p1.00000000.token" not in html  # not even the pseudonyms asked for


def test_the_audit_log_page_is_in_korean_for_a_korean_reader(scenario, auditor):
    html = log(auditor, HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    for text in ("작업 및 세부 내용 검색", "주제", "업무 시간 외만", "JSON 다운로드", "감사 대시보드"):
        assert text in html
