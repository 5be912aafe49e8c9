"""`manage.py create_staff`: a staff account with its roles, from the command line, audited."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from warrantdesk.audit import verify_chain
from warrantdesk.models import AuditAction, AuditEntry

GOOD_PASSWORD = "plum-orchard-lantern-42"


def create_staff(*args, password: str | None = GOOD_PASSWORD) -> str:
    out = io.StringIO()
    stdin = io.StringIO(f"{password}\n") if password is not None else io.StringIO("")
    call_command("create_staff", *args, "--password-stdin", stdin=stdin, stdout=out)
    return out.getvalue()


def roles_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_a_staff_account_is_created_with_its_role_and_can_sign_in(db):
    out = create_staff("park.seoyeon", "--role", "reviewer", "--name", "박 서연", "--email", "seoyeon@Example.KR")

    user = get_user_model().objects.get(username="park.seoyeon")
    assert out.strip() == "created park.seoyeon: Reviewer"
    assert roles_of(user) == {"Reviewer"}
    assert (user.first_name, user.last_name, user.email) == ("박", "서연", "seoyeon@example.kr")
    assert not user.is_superuser and not user.is_staff
    assert Client().login(username="park.seoyeon", password=GOOD_PASSWORD)
    entry = AuditEntry.objects.get(action=AuditAction.ROLE_CHANGED)
    assert entry.actor is None and entry.actor_label.startswith("cli:")
    assert entry.object_id == str(user.pk)
    assert entry.details["op"] == "add" and entry.details["roles_after"] == ["Reviewer"]
    assert GOOD_PASSWORD not in str(entry.details) and "password" in entry.details["fields"]
    assert verify_chain().ok


def test_several_roles_and_role_spellings(db):
    create_staff("grace", "--role", "Intake officer", "--role", "REVIEWER", "--role", "intake_officer")

    assert roles_of(get_user_model().objects.get(username="grace")) == {"Intake officer", "Reviewer"}


def test_an_administrator_may_use_the_admin_site_but_is_no_superuser(db):
    create_staff("ops.admin", "--role", "administrator")

    user = get_user_model().objects.get(username="ops.admin")
    assert user.is_staff and not user.is_superuser
    assert user.has_perm("requests_app.add_investigator")


def test_an_unknown_role_is_refused_and_nothing_is_created(db):
    with pytest.raises(CommandError, match=r"unknown role 'boss': one of intake-officer, reviewer, auditor"):
        create_staff("mallory", "--role", "boss")

    assert not get_user_model().objects.filter(username="mallory").exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "too short"),
        ("password123", "too common"),
        ("inspector.gadget.x", "too similar"),
    ],
)
def test_a_password_the_validators_refuse_creates_nothing(db, password, reason):
    with pytest.raises(CommandError, match=reason):
        create_staff("inspector.gadget", "--role", "auditor", password=password)

    assert not get_user_model().objects.filter(username="inspector.gadget").exists()
    assert not AuditEntry.objects.exists()


def test_an_empty_stdin_is_refused(db):
    with pytest.raises(CommandError, match="stdin gave no password"):
        create_staff("nobody", "--role", "auditor", password=None)


def test_an_existing_user_is_refused_unless_updated(db):
    create_staff("lee.junho", "--role", "intake-officer")

    with pytest.raises(CommandError, match="exists already: give --update"):
        create_staff("lee.junho", "--role", "administrator", password="another-long-passphrase-9")
    user = get_user_model().objects.get(username="lee.junho")
    assert roles_of(user) == {"Intake officer"} and user.check_password(GOOD_PASSWORD)

    out = io.StringIO()
    call_command("create_staff", "lee.junho", "--role", "auditor", "--update", "--name", "Lee Junho", stdout=out)

    user.refresh_from_db()
    assert out.getvalue().strip() == "updated lee.junho: Auditor"
    assert roles_of(user) == {"Auditor"} and user.check_password(GOOD_PASSWORD)  # password kept
    change = AuditEntry.objects.filter(action=AuditAction.ROLE_CHANGED).last()
    assert change.details["op"] == "change"
    assert change.details["roles_before"] == ["Intake officer"] and change.details["roles_after"] == ["Auditor"]
    assert "password" not in change.details["fields"]


def test_the_password_is_asked_twice_on_a_terminal(db, monkeypatch):
    answers = iter(["first-long-passphrase-1", "second-long-passphrase-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("sys.stdin", type("Tty", (io.StringIO,), {"isatty": lambda self: True})())

    with pytest.raises(CommandError, match="the two passwords differ"):
        call_command("create_staff", "typo", "--role", "reviewer", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="typo").exists()

    answers = iter(["matching-long-passphrase-3"] * 2)
    call_command("create_staff", "typo", "--role", "reviewer", stdout=io.StringIO())
    assert get_user_model().objects.get(username="typo").check_password("matching-long-passphrase-3")


def test_without_a_terminal_the_password_must_come_from_stdin(db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    with pytest.raises(CommandError, match="--password-stdin"):
        call_command("create_staff", "cron.user", "--role", "auditor", stdout=io.StringIO())


def test_the_readme_documents_the_command():
    from pathlib import Path

    from django.conf import settings

    readme = Path(settings.BASE_DIR, "README.md").read_text()
    other_commands = readme.split("### Other commands")[1].split("\n## ")[0]
    assert "manage.py create_staff" in other_commands and "--password-stdin" in other_commands
