"""JSON-lines logs: request id and user id on every line of a request, no secret or identity anywhere."""

import io
import json
import logging
import secrets

import pytest
from django.test import Client

from tests.helpers import client_for
from warrantdesk.logs import JsonFormatter, RequestContextFilter, ScrubFilter

PASSWORD = "Correct-Horse-Battery-9"
EMAIL = "kim.minji@example.kr"
PHONE = "+82 10-1234-5678"


@pytest.fixture
def json_lines():
    """What the production handler writes (JSON formatter, both filters), as parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()], stream
    finally:
        root.removeHandler(handler)


@pytest.mark.django_db
def test_a_request_with_a_token_a_password_an_email_and_a_phone_logs_none_of_them(json_lines, legal_officer):
    read, stream = json_lines
    token = secrets.token_urlsafe(32)
    client = client_for(legal_officer)

    client.get(f"/d/{token}/", {"email": EMAIL, "phone": PHONE, "password": PASSWORD})
    client.post("/no-such-page/", {"password": PASSWORD, "token": token, "email": EMAIL, "phone": PHONE})
    Client().post("/accounts/login/", {"username": EMAIL, "password": PASSWORD})
    logging.getLogger("warrantdesk.test").warning(
        "sent to %s at %s with password=%s Bearer %s", EMAIL, PHONE, PASSWORD, token, extra={"email": EMAIL}
    )

    text = stream.getvalue()
    for secret in (token, PASSWORD, EMAIL, PHONE, "1234-5678", legal_officer.username):
        assert secret not in text
    lines = read()
    assert len(lines) >= 4 and all(line["level"] and line["logger"] and line["time"] for line in lines)
    assert "[scrubbed]" in text


@pytest.mark.django_db
def test_every_line_of_a_request_carries_its_request_id_and_the_user_id(json_lines, legal_officer):
    read, _ = json_lines

    response = client_for(legal_officer).get("/warrants/", HTTP_X_REQUEST_ID="req-0123456789abcdef")

    access = [line for line in read() if line["logger"] == "warrantdesk.access"]
    assert response["X-Request-ID"] == "req-0123456789abcdef"
    assert access == [
        {
            **access[0],
            "request_id": "req-0123456789abcdef",
            "user_id": str(legal_officer.pk),
            "method": "GET",
            "route": "warrants/",
            "status": 200,
        }
    ]


@pytest.mark.django_db
def test_a_client_request_id_that_does_not_look_like_one_is_replaced(json_lines):
    response = Client().get("/accounts/login/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")

    assert response["X-Request-ID"] != "<script>alert(1)</script>" and len(response["X-Request-ID"]) == 32


def test_a_traceback_is_scrubbed_too(json_lines):
    read, stream = json_lines

    try:
        raise ValueError(f"duplicate key (email)=({EMAIL}) token={PASSWORD}")
    except ValueError:
        logging.getLogger("warrantdesk.test").exception("saving failed")

    assert EMAIL not in stream.getvalue() and PASSWORD not in stream.getvalue()
    assert "ValueError" in read()[0]["exc_info"]


@pytest.mark.parametrize(
    "text",
    [
        "sent to kim.minjun+work@example.co.kr today",
        "9" * 5000 + "x.y@example.org",  # an address glued to a long run is still found whole
        "<park_jiho@mail.example.com>, (lee@example.kr)",
        "name(at)host: real@example.net",
    ],
)
def test_addresses_are_scrubbed_whole_wherever_they_stand(text):
    from warrantdesk.logs import SCRUBBED, scrub_text

    scrubbed = scrub_text(text)

    assert "@" not in scrubbed
    assert SCRUBBED in scrubbed


def test_a_long_run_without_an_address_is_left_as_it_is():
    from warrantdesk.logs import scrub_text

    text = "GET /api/v1/warrants/" + "a" * 8000 + "/scope/"

    assert scrub_text(text) == text
