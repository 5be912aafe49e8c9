"""The auditor's dashboard: its figures on the known scenario (tests/oversight/conftest.py)."""

import datetime as dt

import time_machine
from django.urls import reverse

from tests.helpers import client_for
from tests.oversight.conftest import NOW, SECRETS


def dashboard(user, query=None, **headers):
    with time_machine.travel(NOW, tick=False):
        return client_for(user).get(reverse("audit-dashboard"), query or {}, **headers)


def pick(rows, *keys):
    return [tuple(row[key] for key in keys) for row in rows]


def test_the_dashboard_counts_approvals_by_the_same_pair_of_officers(scenario, auditor):
    figures = dashboard(auditor).context["figures"]

    assert pick(figures.approval_pairs, "registered_by", "approved_by", "count") == [
        ("alice", "bob", 3),
        ("dave", "bob", 1),
    ]


def test_the_dashboard_counts_reveals_per_warrant_and_names_nobody(scenario, auditor):
    response = dashboard(auditor)

    first = scenario.warrants["first"].reference
    assert response.context["figures"].reveals == [
        {"warrant": first, "requests": 1, "asked": 3, "approved": 2, "refused": 1, "revealed": 2}
    ]


def test_the_dashboard_lists_deferrals_ending_soon_and_overdue_notices(scenario, auditor):
    figures = dashboard(auditor).context["figures"]

    second, third = scenario.warrants["second"].reference, scenario.warrants["third"].reference
    assert pick(figures.deferrals_ending, "warrant", "count", "days_left", "deferred_by") == [(second, 1, 5, "bob")]
    assert figures.deferrals_ending[0]["ends"] == NOW + dt.timedelta(days=5)
    assert pick(figures.overdue, "warrant", "count", "days_late") == [(second, 1, 3), (third, 1, 1)]


def test_the_dashboard_counts_signature_failures_by_agency(scenario, auditor):
    figures = dashboard(auditor).context["figures"]

    assert pick(figures.signature_failures, "agency", "outcome", "count", "warrants") == [
        ("Korean National Police Agency", "UNSIGNED", 2, 1),
        ("Seoul Central District Prosecutors' Office", "NOT_CHIEF", 1, 1),
    ]


def test_the_dashboard_counts_after_hours_actions_by_actor(scenario, auditor):
    figures = dashboard(auditor).context["figures"]

    assert scenario.night_entries_by_alice >= 2  # the warrant logged and assigned at 22:30
    assert pick(figures.after_hours, "actor", "count") == [
        ("alice", scenario.night_entries_by_alice),
        ("bob", scenario.saturday_entries_by_bob),
    ]


def test_working_hours_are_configurable(scenario, auditor, settings):
    settings.WARRANTDESK_WORKING_HOURS = (8, 23)  # Tuesday 22:30 is now in hours
    settings.WARRANTDESK_WORKING_DAYS = (1, 2, 3, 4, 5, 6)  # and so is Saturday

    figures = dashboard(auditor).context["figures"]

    assert figures.after_hours == []


def test_the_period_bounds_the_figures(scenario, auditor):
    figures = dashboard(auditor, {"since": "2026-03-04"}).context["figures"]

    assert figures.approval_pairs == []
    assert pick(figures.after_hours, "actor") == [("bob",)]


def test_the_dashboard_page_shows_the_figures_and_no_secret(scenario, auditor):
    response = dashboard(auditor)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="/audit/cases/{scenario.warrants["first"].reference}/"' in html
    assert 'href="/audit/?actor=alice&amp;after_hours=1"' in html
    for secret in SECRETS:
        assert secret not in html


def test_the_dashboard_is_in_korean_for_a_korean_reader(scenario, auditor):
    html = dashboard(auditor, HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    for text in ("감사 대시보드", "같은 담당자 쌍의 승인", "영장별 신원 공개", "업무 시간 외 활동", "기관별 서명 실패"):
        assert text in html


def test_a_bad_period_is_shown_with_no_figures(auditor):
    response = dashboard(auditor, {"since": "2026-02-30"})

    assert response.status_code == 400
    assert response.context["figures"] is None
    assert "since" in response.context["filter_form"].errors


def test_only_auditors_open_the_dashboard(legal_officer, reviewer, outsider):
    for user in (legal_officer, reviewer, outsider):
        assert client_for(user).get(reverse("audit-dashboard")).status_code == 404


def test_the_navigation_links_the_dashboard_for_auditors_only(auditor, legal_officer):
    link = 'href="/audit/dashboard/"'

    assert link in client_for(auditor).get(reverse("audit-log")).content.decode()
    assert link not in client_for(legal_officer).get(reverse("requests_app:warrant-list")).content.decode()
