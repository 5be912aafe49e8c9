"""Fixtures shared by the disclosure tests: a generated store with an approved warrant (exports), and
a delivered warrant with the people to notify behind a real SMTP server (notifications)."""

import datetime as dt

import pytest
from aiosmtpd.controller import Controller
from django.db.models import Count

from demo.generator import generate
from disclosure.models import Account, Disclosure, Export
from requests_app import services as warrant_services
from requests_app.models import Warrant
from requests_app.services import TargetInput
from requests_app.workflow import Status
from tests.factories import warrant_fields
from tests.helpers import Collector, delivered_export, free_port, mailers_for, make_account, verify_signature

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # the generated store's first day (test_exports.START)


@pytest.fixture
def store(db):
    return generate(accounts=60, rooms=8, messages=1500, seed=11, start=START, days=60)


@pytest.fixture
def approved_warrant(store, legal_officer, reviewer, agency, pdf_upload):
    """Two targets: the most active account and one named by phone number."""
    busiest = Account.objects.filter(uid__startswith="gen-11-").annotate(n=Count("messages")).order_by("-n")
    first, second = busiest[0], busiest[1]
    warrant = warrant_services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", first.uid), TargetInput("PHONE", second.phone or second.uid)],
        upload=pdf_upload(),
        **warrant_fields(agency, period_start=START, period_end=START + dt.timedelta(days=60)),
    )
    warrant_services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
    verify_signature(warrant, actor=legal_officer)
    return warrant_services.warrant_approve(warrant=warrant, actor=reviewer)


@pytest.fixture
def smtp(settings):
    port = free_port()
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = mailers_for(port)
    collector.port = port
    yield collector
    controller.stop()


@pytest.fixture
def people(db):
    return {
        "target_ko": make_account("u-target-ko", "김지훈", email="jihoon@example.kr", phone="010-1111-2222"),
        "target_en": make_account(
            "u-target-en", "Alice Walker", email="alice@example.com", phone="010-3333-4444", locale="en"
        ),
        "bystander": make_account("u-bystander", "박서연", email="seoyeon@example.kr", phone="010-5555-6666"),
        "revealed": make_account(
            "u-revealed", "Brian Moss", email="brian@example.com", phone="010-7777-8888", locale="en"
        ),
        "no_email": make_account("u-paper", "이도윤", phone="010-9999-0000"),
    }


@pytest.fixture
def delivered(warrant, legal_officer, people):
    Warrant.objects.filter(pk=warrant.pk).update(status=Status.EXPORTED)
    delivered_export(
        warrant,
        legal_officer,
        [
            (people["target_ko"], Disclosure.Role.TARGET, 12),
            (people["target_en"], Disclosure.Role.TARGET, 3),
            (people["bystander"], Disclosure.Role.PSEUDONYMISED, 7),
            (people["revealed"], Disclosure.Role.PSEUDONYMISED, 4),
            (people["no_email"], Disclosure.Role.TARGET, 1),
        ],
    )
    # A follow-up request later revealed one pseudonymised person.
    delivered_export(
        warrant, legal_officer, [(people["revealed"], Disclosure.Role.REVEALED, 0)], kind=Export.Kind.IDENTITIES
    )
    warrant.refresh_from_db()
    return warrant
