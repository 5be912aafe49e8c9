"""Demo mode (`make run`): validly signed sample documents of the demo agency, to walk the journey
without writing code; off (404, nothing offered) unless WARRANTDESK_DEMO is on."""

import datetime as dt
import io
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from demo import samples
from requests_app import services
from requests_app.models import FollowUpRequest, SignatureOutcome, Warrant
from requests_app.workflow import Status
from tests.factories import UserFactory
from tests.helpers import client_for
from warrantdesk.roles import Role


@pytest.fixture
def demo_data(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"  # a demo PKI of its own, as `make run` keeps in var/
    call_command("seed_demo", stdout=io.StringIO())
    return settings


def user(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def form_fields(page: str) -> dict[str, str]:
    """The values a browser would send from the "Log a warrant" form as rendered (no file)."""
    fields = {}
    for name, value in re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page):
        fields[name] = unescape(value)
    for name, body in re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>(.*?)</textarea>', page, flags=re.DOTALL):
        fields[name] = unescape(body).strip("\n")
    for name, options in re.findall(r'<select[^>]*name="(\w+)"[^>]*>(.*?)</select>', page, flags=re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', options)
        fields[name] = chosen.group(1) if chosen else ""
    fields.pop("csrfmiddlewaretoken", None)
    return fields


def test_without_demo_mode_nothing_is_offered_and_the_downloads_are_404(settings, legal_officer, warrant):
    settings.WARRANTDESK_DEMO = False  # the default, and production's
    client = client_for(legal_officer)

    form_page = client.get(reverse("requests_app:warrant-create")).content.decode()

    assert "demo-panel" not in form_page
    assert client.get(reverse("demo:sample-warrant")).status_code == 404
    assert client.get(reverse("demo:sample-request"), {"warrant": warrant.pk}).status_code == 404


def test_the_sample_warrant_and_follow_up_request_pass_the_real_signature_check(demo_data):
    demo_data.WARRANTDESK_DEMO = True
    kim = client_for(user("officer.kim"))

    # The "Log a warrant" page offers the sample and fills the form in as it reads.
    page = kim.get(reverse("requests_app:warrant-create")).content.decode()
    download = re.search(r'id="demo-sample-warrant" href="([^"]+)"', page).group(1)
    fill = re.search(r'id="demo-sample-fill" href="([^"]+)"', page).group(1)
    pdf = kim.get(unescape(download))
    filled = form_fields(kim.get(unescape(fill)).content.decode())
    response = kim.post(
        reverse("requests_app:warrant-create"),
        {**filled, "document": SimpleUploadedFile("sample.pdf", pdf.content, "application/pdf")},
    )
    # (a user who confirms a duplicate warning or the like would tick it; none is expected here)

    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    warrant = Warrant.objects.get(warrant_number=filled["warrant_number"])
    assert warrant.agency.code == "scdpo"
    assert timezone.now() - warrant.received_at < timezone.timedelta(minutes=2)
    check = services.document_check_signature(document=services.current_warrant_document(warrant))
    assert check.outcome == SignatureOutcome.VALID, check.reasons
    assert check.investigator.is_chief and check.investigator.name == "Jung Daehyun"
    from disclosure.models import Account

    for target in warrant.targets.all():  # the targets are accounts of the demo store
        lookup = {"uid": target.identifier} if target.kind == "UID" else {"phone": target.identifier}
        assert Account.objects.filter(**lookup).exists(), target.identifier

    # The follow-up form of a delivered warrant offers a request naming that warrant's pseudonyms.
    delivered = Warrant.objects.get(status=Status.DELIVERED)
    page = kim.get(reverse("followups:create", args=[delivered.pk])).content.decode()
    download = re.search(r'id="demo-sample-request" href="([^"]+)"', page).group(1)
    fill = re.search(r'id="demo-sample-fill" href="([^"]+)"', page).group(1)
    request_pdf = kim.get(unescape(download))
    filled_page = kim.get(unescape(fill)).content.decode()
    picks = re.findall(r'name="pick" value="([^"]+)" id="pick-\d+" checked', filled_page)
    data = {
        "received_at": re.search(r'name="received_at" value="([^"]+)"', filled_page).group(1),
        "deadline": re.search(r'name="deadline" value="([^"]+)"', filled_page).group(1),
        "pick": picks,
        "pasted": "",
    }
    for token in picks:
        data[f"why:{token}"] = unescape(
            re.search(rf'name="why:{re.escape(token)}"[^>]*>(.*?)</textarea>', filled_page, flags=re.DOTALL).group(1)
        )
    logged = kim.post(
        reverse("followups:create", args=[delivered.pk]),
        {**data, "document": SimpleUploadedFile("request.pdf", request_pdf.content, "application/pdf")},
    )

    assert len(picks) == 2
    for token in picks:
        assert token[:40].encode() in request_pdf.content  # the request names them
    assert logged.status_code == 302, logged.context["form"].errors if logged.context else ""
    follow_up = FollowUpRequest.objects.get(warrant=delivered)
    verdict = services.document_check_signature(document=follow_up.document)
    assert verdict.outcome == SignatureOutcome.VALID, verdict.reasons
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUpRequest.Status.IN_REVIEW
    assert sorted(follow_up.tokens.values_list("token", flat=True)) == sorted(picks)

    # A second demo reviewer, so that two reviewers can decide the reveal; outsiders get no sample.
    assert client_for(user("reviewer.jung")).get(follow_up.get_absolute_url()).status_code == 200
    outsider = client_for(UserFactory(username="charlie", role=Role.INTAKE_OFFICER))
    assert outsider.get(unescape(download)).status_code == 404


def test_two_samples_fetched_in_one_minute_are_two_warrants_not_a_duplicate(demo_data):
    minute = timezone.make_aware(dt.datetime(2026, 12, 4, 17, 12, 5))

    first = samples.sample_warrant(now=minute)
    second = samples.sample_warrant(now=minute + dt.timedelta(seconds=30))

    assert first.number != second.number
    assert first.received_at == second.received_at == minute.replace(second=0)  # the form shows minutes


def test_the_sample_warrants_targets_can_be_emailed_and_are_no_demo_warrants_targets(demo_data):
    """The sample's user notices go out by e-mail (the journey ends at the SMTP server), whatever the
    time of day the store was generated at (which accounts are busiest depends on it)."""
    from disclosure.models import Account
    from requests_app.models import WarrantTarget

    targets = samples.sample_warrant().targets
    assert [target["kind"] for target in targets] == ["UID", "PHONE"]
    first = Account.objects.get(uid=targets[0]["identifier"])
    second = Account.objects.get(phone=targets[1]["identifier"])
    assert first != second and first.email and second.email
    named = set(WarrantTarget.objects.values_list("identifier", flat=True))
    assert not named & {first.uid, second.uid, second.phone}
