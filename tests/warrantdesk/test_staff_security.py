"""Staff security: two-factor sign-in (enrolment, codes, recovery codes, reset), the lockout that looks
like a wrong password, the idle timeout, rate limits of sensitive API actions, API clients' tokens."""

import datetime as dt
import io
import re

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD
from tests.helpers import client_for, sign_in
from warrantdesk.api_clients import api_client_create, api_client_revoke
from warrantdesk.models import AuditAction, AuditEntry
from warrantdesk.two_factor import current_code, second_factor_reset

WARRANTS = "/api/v1/warrants/"


def password_only(username: str) -> Client:
    client = Client()
    assert client.post(reverse("login"), {"username": username, "password": PASSWORD}).status_code == 302
    return client


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))


# --- two-factor sign-in ----------------------------------------------------------------------------------


def test_a_password_alone_opens_no_page_and_no_api_enrolment_comes_first(legal_officer, warrant):
    client = password_only("alice")

    for url in ("/", reverse("requests_app:warrant-list"), f"/warrants/{warrant.pk}/", "/audit/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("two-factor-setup")), url
    assert client.get(WARRANTS).status_code == 403  # the API: a session short of its second factor is no one
    assert client.get(reverse("operator-key")).status_code == 200  # public pages stay public


def test_enrolment_shows_a_qr_code_the_uri_and_the_secret_then_the_recovery_codes_once(legal_officer):
    client = password_only("alice")
    page = client.get(reverse("two-factor-setup"))
    html = page.content.decode()
    device = TOTPDevice.objects.get(user=legal_officer)

    assert page.status_code == 200 and not device.confirmed
    assert 'src="data:image/svg+xml' in html and "otpauth://totp/" in html
    secret = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", html).group(1).replace(" ", "")
    assert len(secret) == 32
    assert "<script src=" not in html.split("</main>")[0]  # no script needed (and none from elsewhere)

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        wrong = client.post(reverse("two-factor-setup"), {"code": "000000"})
        assert wrong.status_code == 400 and "not valid" in wrong.content.decode()
        traveller.shift(dt.timedelta(seconds=5))  # django-otp's throttle after a failure
        done = client.post(reverse("two-factor-setup"), {"code": current_code(device), "next": "/warrants/"})
    assert done.status_code == 302 and done["Location"].startswith(reverse("two-factor-codes"))

    codes_page = client.get(done["Location"]).content.decode()
    codes = re.findall(r'<code class="hash">([a-z0-9]+)</code>', codes_page)
    assert len(codes) == 10 and StaticToken.objects.filter(device__user=legal_officer).count() == 10
    assert client.get(reverse("two-factor-codes"))["Location"] == reverse("home")  # shown once only
    assert client.get(reverse("requests_app:warrant-list")).status_code == 200
    assert AuditAction.TWO_FACTOR_ENROLLED in actions()


def test_a_current_code_signs_in_and_a_wrong_one_is_refused_and_audited(legal_officer):
    device = TOTPDevice.objects.create(user=legal_officer, name="default", confirmed=True)
    client = password_only("alice")
    assert client.get("/")["Location"].startswith(reverse("two-factor-verify"))

    with time_machine.travel(timezone.now(), tick=False) as traveller:
        wrong = client.post(reverse("two-factor-verify"), {"code": "123456"})
        assert wrong.status_code == 400 and client.get(WARRANTS).status_code == 403
        # django-otp's throttle: after a failure, even the right code waits (1 s, doubling each failure).
        assert client.post(reverse("two-factor-verify"), {"code": current_code(device)}).status_code == 400
        traveller.shift(dt.timedelta(seconds=5))
        right = client.post(reverse("two-factor-verify"), {"code": current_code(device), "next": WARRANTS})

    assert right.status_code == 302 and right["Location"] == WARRANTS
    assert client.get(WARRANTS).status_code == 200
    assert actions()[-3:] == [
        AuditAction.TWO_FACTOR_FAILED,
        AuditAction.TWO_FACTOR_FAILED,
        AuditAction.TWO_FACTOR_VERIFIED,
    ]


def test_a_recovery_code_works_once(legal_officer):
    sign_in(Client(), "alice")  # enrolled
    from warrantdesk.two_factor import recovery_codes_create

    code = recovery_codes_create(legal_officer)[0]
    first, second = password_only("alice"), password_only("alice")

    assert first.post(reverse("two-factor-verify"), {"code": code}).status_code == 302
    assert first.get(reverse("requests_app:warrant-list")).status_code == 200
    assert second.post(reverse("two-factor-verify"), {"code": code}).status_code == 400
    assert AuditAction.RECOVERY_CODE_USED in actions()


def test_an_administrator_resets_a_second_factor_audited_and_the_user_enrols_again(legal_officer, admin_user):
    officer = client_for(legal_officer)
    assert officer.get(reverse("requests_app:warrant-list")).status_code == 200
    admin_user.is_staff = admin_user.is_superuser = True  # the user admin needs the auth permissions
    admin_user.save(update_fields=["is_staff", "is_superuser"])
    admin = client_for(admin_user)

    response = admin.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [legal_officer.pk], "index": 0, "select_across": 0},
    )

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=legal_officer).exists()
    entry = AuditEntry.objects.filter(action=AuditAction.TWO_FACTOR_RESET).get()
    assert entry.actor == admin_user and entry.details == {"user": "alice", "devices": 1}
    # The session verified with the deleted device no longer counts: enrol again.
    assert officer.get(reverse("requests_app:warrant-list"))["Location"].startswith(reverse("two-factor-setup"))


def test_reset_from_the_command_line_is_audited(legal_officer):
    client_for(legal_officer)
    call_command("reset_two_factor", "alice", stdout=io.StringIO())
    assert not TOTPDevice.objects.filter(user=legal_officer).exists()
    assert AuditEntry.objects.filter(action=AuditAction.TWO_FACTOR_RESET, actor_label="manage.py").exists()
    assert second_factor_reset(user=legal_officer, actor=None) == 0


# --- lockout, passwords, idle timeout ----------------------------------------------------------------------


def _login_page(username: str, password: str):
    response = Client().post(reverse("login"), {"username": username, "password": password})
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())
    body = re.sub(r'value="[^"]*"', "", body)  # the user name typed, given back in the form
    return response.status_code, body


def test_a_locked_account_an_unknown_one_and_a_wrong_password_get_the_same_answer(legal_officer, reviewer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        _login_page("alice", "wrong password 1")
    locked = _login_page("alice", PASSWORD)  # the right password, but locked out
    unknown = _login_page("nobody-here", "wrong password 1")
    wrong = _login_page("bob", "wrong password 1")

    assert locked[0] == unknown[0] == wrong[0] == 200
    assert locked[1] == unknown[1] == wrong[1]
    assert "Please enter a correct username and password" in locked[1]
    assert AuditAction.LOGIN not in actions()  # the right password, locked out, signed nobody in


def test_the_lockout_ends_after_the_cool_off(legal_officer, settings):
    settings.AXES_FAILURE_LIMIT = 2
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(2):
            _login_page("alice", "wrong password 1")
        assert _login_page("alice", PASSWORD)[0] == 200
        traveller.shift(dt.timedelta(minutes=16))
        assert Client().post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("password", ["short-pw1", "123456789012345", "password1234"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_an_idle_session_is_signed_out(legal_officer, settings):
    settings.WARRANTDESK_IDLE_MINUTES = 30
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client = client_for(legal_officer)
        assert client.get(reverse("requests_app:warrant-list")).status_code == 200
        traveller.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("requests_app:warrant-list")).status_code == 200  # activity keeps it alive
        traveller.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("requests_app:warrant-list")).status_code == 200
        traveller.shift(dt.timedelta(minutes=31))
        response = client.get(reverse("requests_app:warrant-list"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
        assert client.get(WARRANTS).status_code == 403  # signed out for the API too


# --- rate limits -----------------------------------------------------------------------------------------


def test_a_sensitive_api_action_over_its_rate_gets_a_clear_429(legal_officer, warrant, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "exports": "2/hour"},
    }
    client = client_for(legal_officer)
    url = f"/api/v1/warrants/{warrant.pk}/exports/"

    answers = [client.post(url, {}, content_type="application/json") for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [409, 409]  # not approved: refused, but counted
    assert answers[2].status_code == 429
    assert int(answers[2]["Retry-After"]) > 0
    assert "throttled" in answers[2].json()["detail"]
    assert client.get(url).status_code == 200  # reading the list is not limited


# --- API clients -----------------------------------------------------------------------------------------


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_token_works_within_its_scopes_only_and_refusals_are_audited(legal_officer, warrant, admin_user):
    client, token = api_client_create(name="SCDPO script", user=legal_officer, scopes=["warrants:read"], days=30)
    assert token.startswith(f"wdk_{client.prefix}_") and token not in str(client.__dict__)

    listed = Client().get(WARRANTS, **bearer(token))
    assert listed.status_code == 200 and listed.json()["count"] == 1
    refused = Client().post(
        f"/api/v1/warrants/{warrant.pk}/exports/", {}, content_type="application/json", **bearer(token)
    )
    assert refused.status_code == 403 and "scope" in refused.json()["detail"]
    assert Client().get("/api/v1/audit/", **bearer(token)).status_code == 403

    entry = AuditEntry.objects.filter(action=AuditAction.API_CLIENT_REFUSED).first()
    assert entry.details["reason"] == "scope" and entry.details["needed"] == "exports:write"
    assert AuditEntry.objects.filter(action=AuditAction.API_CLIENT_CREATED).count() == 1


def test_an_expired_or_revoked_or_wrong_token_is_refused_and_audited(legal_officer):
    client, token = api_client_create(name="script", user=legal_officer, scopes=["warrants:read"], days=1)

    with time_machine.travel(timezone.now() + dt.timedelta(days=2)):
        assert Client().get(WARRANTS, **bearer(token)).status_code in {401, 403}
    assert Client().get(WARRANTS, **bearer(token[:-2] + "xx")).status_code in {401, 403}
    assert Client().get(WARRANTS, **bearer("wdk_00000000_nothing")).status_code in {401, 403}
    api_client_revoke(client=client)
    assert Client().get(WARRANTS, **bearer(token)).status_code in {401, 403}

    reasons = [entry.details["reason"] for entry in AuditEntry.objects.filter(action=AuditAction.API_CLIENT_REFUSED)]
    assert reasons == ["expired", "wrong_secret", "revoked"]  # a token of no client is not audited
    assert AuditEntry.objects.filter(action=AuditAction.API_CLIENT_REVOKED).count() == 1


def test_the_command_creates_a_client_prints_the_token_once_and_revokes_it(legal_officer):
    out = io.StringIO()
    call_command("api_client", "create", "HI-1", "--user", "alice", "--scope", "warrants:read", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert Client().get(WARRANTS, **bearer(token)).status_code == 200

    listing = io.StringIO()
    call_command("api_client", "list", stdout=listing)
    assert token not in listing.getvalue() and token.split("_")[1] in listing.getvalue()
    call_command("api_client", "revoke", token.split("_")[1], stdout=io.StringIO())
    assert Client().get(WARRANTS, **bearer(token)).status_code in {401, 403}


def test_http_basic_with_a_staff_password_is_refused(legal_officer):
    import base64

    credentials = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    response = Client().get(WARRANTS, HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code in {401, 403}
