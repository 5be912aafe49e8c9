"""Fuzzing the REST API with schemathesis (issue 14, point 3).

The schema is the one the app serves (``/api/v1/schema/``), loaded in-process over WSGI; every operation
is called with bounded, derandomized examples (valid and invalid input) as each role: the legal officer
who logged the case, its reviewer, the auditor, an administrator, and no one. Every response must be
no server error, have a status code and a content type the schema gives for that operation, and a body
that matches the schema. Path ids are the ids of real objects half the time (a warrant with targets and
documents, a finished export, a follow-up request, an agency, an investigator, a signed checkpoint), so
that the fuzzer reaches the views' code, not only their 404.
"""

import contextlib
import datetime as dt
from dataclasses import dataclass

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from demo.generator import generate
from requests_app import services as warrant_services
from requests_app.models import FollowUpRequest, FollowUpToken
from requests_app.services import TargetInput
from tests.factories import InvestigatorFactory, warrant_fields
from tests.helpers import client_for, run_export, verify_signature
from warrantdesk import checkpoints

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CSRF = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"  # a 32-character CSRF secret, sent as cookie and header
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class Ids:
    warrant: int
    document: int
    export: int
    follow_up: int
    agency: int
    investigator: int
    checkpoint: int


@pytest.fixture
def api_state(db, legal_officer, reviewer, admin_user, auditor, agency, pdf_upload) -> Ids:
    """An approved warrant with two targets, its document, a finished export of a small conversation
    store, a follow-up request with a pending pseudonym, an investigator, and a signed checkpoint."""
    generate(accounts=8, rooms=2, messages=40, seed=14, start=START, days=20)
    warrant = warrant_services.warrant_register(
        actor=legal_officer,
        targets=[TargetInput("UID", "gen-14-0001"), TargetInput("PHONE", "010-1234-5678")],
        upload=pdf_upload(),
        **warrant_fields(agency, period_start=START, period_end=START + dt.timedelta(days=20)),
    )
    warrant_services.warrant_assign(warrant=warrant, user=reviewer, actor=legal_officer)
    verify_signature(warrant, actor=legal_officer)
    warrant = warrant_services.warrant_approve(warrant=warrant, actor=reviewer)
    export = run_export(warrant, legal_officer)
    follow_up = FollowUpRequest.objects.create(
        warrant=warrant,
        reference=f"{warrant.reference}-F1",
        received_at=warrant.received_at,
        deadline=warrant.deadline,
        created_by=legal_officer,
    )
    FollowUpToken.objects.create(
        request=follow_up, position=1, token="p1.00000000.aaaa", justification="Fuzz", validity="VALID"
    )
    investigator = InvestigatorFactory(agency=agency)
    checkpoint = checkpoints.checkpoint_create(created_by="command")
    return Ids(
        warrant=warrant.pk,
        document=warrant.documents.first().pk,
        export=export.pk,
        follow_up=follow_up.pk,
        agency=agency.pk,
        investigator=investigator.pk,
        checkpoint=checkpoint.tree_size,
    )


def _real_path_parameters(path: str, ids: Ids) -> dict:
    first = path.removeprefix("/api/v1/").split("/")[0]
    owners = {
        "warrants": {"id": ids.warrant},
        "documents": {"id": ids.document},
        "exports": {"id": ids.export},
        "follow-ups": {"id": ids.follow_up},
        "agencies": {"id": ids.agency},
        "investigators": {"id": ids.investigator},
        "audit": {"size": ids.checkpoint},
    }
    return owners.get(first, {})


def _session(user) -> tuple[dict, dict]:
    """Headers and cookies of a signed-in session (past the second factor), with a CSRF token."""
    if user is None:
        return {}, {}
    session = client_for(user).cookies["sessionid"].value
    return {"X-CSRFToken": CSRF}, {"sessionid": session, "csrftoken": CSRF}


@contextlib.contextmanager
def in_test_transaction():
    """A request through the real WSGI handler closes the database connection at its end, and with it
    the test's transaction: keep it open, as Django's test client does (which connects the handlers
    again after each of its own requests: enter this after them)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _served_schema(admin_user):
    """The schema as the app serves it, loaded in-process (WSGI) and called over WSGI."""
    response = client_for(admin_user).get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json())
    schema.app = get_wsgi_application()
    return schema


def _fuzz_operation(operation, headers: dict, cookies: dict, ids: Ids, examples: int, failures: list, role: str):
    real = _real_path_parameters(operation.path, ids)
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode))
        if real and mode.is_positive:
            strategies.append(operation.as_strategy(generation_mode=mode, path_parameters=real))

    @hypothesis.settings(
        max_examples=examples * len(strategies),
        derandomize=True,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=st.one_of(strategies))
    def run(case):
        response = case.call(headers=headers, cookies=cookies)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # every operation's failures are collected and reported together
        failures.append(f"{operation.label} as {role}: {exc}")


# Each role's examples per operation and generation mode: the case's own officer and the administrator
# reach the most code; the reviewer sees the same case; the auditor and no one are refused early.
BUDGETS = {"legal_officer": 2, "admin_user": 1, "reviewer": 1, "auditor": 1, None: 1}


def test_every_api_operation_holds_under_fuzzing(request, api_state, admin_user):
    schema = _served_schema(admin_user)
    operations = [result.ok() for result in schema.get_all_operations()]
    sessions = {role: _session(request.getfixturevalue(role) if role else None) for role in BUDGETS}
    failures: list[str] = []
    with in_test_transaction():
        for role, examples in BUDGETS.items():
            headers, cookies = sessions[role]
            for operation in operations:
                _fuzz_operation(operation, headers, cookies, api_state, examples, failures, role or "anonymous")
    assert not failures, "\n\n".join(failures)
