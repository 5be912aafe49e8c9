"""What the busiest pages no longer pay for, with the same answers: choice labels translated one at a
time, case permissions and roles read once a request (and read again after a change), the table cells
of ``{% load ui %}`` rendered as the template filters did."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.functional import lazy

from requests_app import services
from requests_app.models import Warrant
from requests_app.permissions import can, can_view
from requests_app.workflow import Status
from tests.factories import warrant_fields
from tests.helpers import client_for
from warrantdesk.models import AuditAction, AuditEntry
from warrantdesk.roles import Role, user_roles

pytestmark = pytest.mark.django_db


def _never(*_args):
    raise AssertionError("a label other than the value's was translated")


def test_a_choice_label_is_the_one_translated():
    never = lazy(_never, str)()
    field = SimpleNamespace(
        attname="status", flatchoices=[("A", never), ("B", lazy(lambda: "Bee", str)()), ("C", never)]
    )
    assert Warrant(status="B")._get_FIELD_display(field) == "Bee"
    assert Warrant(status="Z")._get_FIELD_display(field) == "Z"  # not a choice: the value, as Django does


@pytest.mark.parametrize("language", ["en", "ko"])
def test_choice_labels_read_as_django_labels_them(language):
    with translation.override(language):
        for status in Status:
            assert Warrant(status=status.value).get_status_display() == str(status.label)
        for action in AuditAction:
            assert AuditEntry(action=action.value).get_action_display() == str(action.label)
        assert Warrant(status="").get_status_display() == ""
    with translation.override("ko"):
        assert Warrant(status=Status.RECEIVED).get_status_display() != "Received"


def test_case_permissions_are_asked_once_a_request_and_again_after_an_assignment(
    warrant, legal_officer, second_officer
):
    officer = get_user_model().objects.get(pk=second_officer.pk)  # a fresh user object, as a request has
    assert not can_view(officer, warrant)
    with CaptureQueriesContext(connection) as asked:
        for _ in range(5):
            assert not can_view(officer, warrant)
            assert not can(officer, "requests_app.add_document", warrant)
    assert len(asked) == 0
    services.warrant_assign(warrant=warrant, user=officer, actor=legal_officer)
    assert can_view(officer, warrant)  # the same object sees the case it was given in this request


def test_roles_are_read_once_and_again_after_a_change(second_officer):
    officer = get_user_model().objects.get(pk=second_officer.pk)
    assert user_roles(officer) == {Role.INTAKE_OFFICER}
    with CaptureQueriesContext(connection) as asked:
        user_roles(officer)
        user_roles(officer)
    assert len(asked) == 0
    officer.groups.add(Group.objects.get(name=Role.REVIEWER.value))  # as the admin site and staff_save do
    assert user_roles(officer) == {Role.INTAKE_OFFICER, Role.REVIEWER}
    officer.groups.clear()
    assert user_roles(officer) == set()


def test_the_case_page_asks_about_its_case_once(warrant, legal_officer):
    client = client_for(legal_officer)
    client.get(warrant.get_absolute_url())
    with CaptureQueriesContext(connection) as asked:
        assert client.get(warrant.get_absolute_url()).status_code == 200
    # guardian's object-permission check, one question in two queries (the user's own, the groups'):
    # the page asked it six times
    guardian = [q["sql"] for q in asked if q["sql"].startswith('SELECT "auth_permission"."codename"')]
    assert len(guardian) == 2, [q[:150] for q in guardian]
    roles = [q["sql"] for q in asked if 'FROM "auth_group" INNER JOIN "auth_user_groups"' in q["sql"]]
    assert len(roles) <= 1, roles


@pytest.mark.parametrize("language", ["en", "ko"])
def test_ui_tags_render_what_the_filters_rendered(language, settings):
    engine = engines["django"]
    old = engine.from_string(
        '<time datetime="{{ v|date:\'c\' }}">{{ v|date:"SHORT_DATE_FORMAT" }} <span class="time">'
        '{{ v|date:"TIME_FORMAT" }}</span></time>|<span class="badge badge--{{ s|lower }}">{{ label }}</span>'
    )
    new = engine.from_string("{% load ui %}{% when v %}|{% status_badge s label %}")
    with translation.override(language):
        for value in (
            timezone.now().replace(microsecond=0),
            dt.datetime(2026, 1, 2, 15, 4, 5, 123456, tzinfo=dt.UTC),
            dt.datetime(2026, 7, 1, 0, 0, tzinfo=dt.UTC),
        ):
            context = {"v": value, "s": Status.APPROVED, "label": Status.APPROVED.label}
            assert new.render(context) == old.render(context)
        assert new.render({"v": None, "s": "X", "label": "<b>"}) == '|<span class="badge badge--x">&lt;b&gt;</span>'


def test_the_cases_one_sees_are_guardians_answer(warrant, legal_officer, reviewer, second_officer, outsider, auditor):
    """The visible warrants, asked by primary key, are exactly guardian's own answer for every kind of user:
    own grants, a group's grant, the global permission, a superuser, nobody's case, an inactive user."""
    from guardian.shortcuts import assign_perm, get_objects_for_user

    from requests_app.permissions import VIEW
    from requests_app.selectors import warrant_list_visible_to

    other = services.warrant_register(
        actor=second_officer, targets=[services.TargetInput("UID", "t-2")], **warrant_fields(warrant.agency)
    )
    team = Group.objects.create(name="night desk")
    team.user_set.add(outsider)
    assign_perm("view_warrant", team, other)  # a grant to a group, which guardian honours too
    superuser = get_user_model().objects.create_superuser("su", password="x" * 20)
    idle = get_user_model().objects.create_user("idle", is_active=False)
    assign_perm("view_warrant", idle, warrant)
    for user in (legal_officer, reviewer, second_officer, outsider, auditor, superuser, idle):
        user = get_user_model().objects.get(pk=user.pk)
        expected = (
            set(
                get_objects_for_user(
                    user, VIEW, klass=Warrant, accept_global_perms=True, with_superuser=True
                ).values_list("pk", flat=True)
            )
            if user.is_active
            else set()
        )
        assert set(warrant_list_visible_to(user=user).values_list("pk", flat=True)) == expected, user.username
    assert {w.pk for w in warrant_list_visible_to(user=get_user_model().objects.get(pk=outsider.pk))} == {other.pk}
