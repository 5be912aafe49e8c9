import datetime as dt

import pytest

from hi1.models import ClientBinding, Endpoint
from requests_app import registry
from tests import pki
from tests.factories import UserFactory
from tests.hi1.builder import AGENCY_ENDPOINT
from warrantdesk.api_clients import api_client_create
from warrantdesk.roles import Role


@pytest.fixture
def at_receipt(time_machine):
    """The test PKI's certificates are valid around pki.RECEIPT: receive the messages then."""
    time_machine.move_to(pki.RECEIPT + dt.timedelta(hours=1), tick=True)


@pytest.fixture
def ca():
    return pki.pki()


@pytest.fixture
def hi1_agency(db, ca, at_receipt):
    agency = registry.agency_save(code="agency-a", name="Agency A", actor=None)
    registry.anchor_add(agency=agency, certificate=ca.agency_a.anchors_pem, actor=None)
    registry.investigator_register(
        agency=agency, certificate=ca.chief_a.pem, name="Kim Min-jun", title="Chief", is_chief=True, actor=None
    )
    Endpoint.objects.create(
        agency=agency, country_code=AGENCY_ENDPOINT.country, unique_identifier=AGENCY_ENDPOINT.identifier
    )
    return agency


@pytest.fixture
def other_agency(db, ca):
    agency = registry.agency_save(code="agency-b", name="Agency B", actor=None)
    Endpoint.objects.create(agency=agency, country_code="FR", unique_identifier="agency-b-hi1")
    return agency


def _token(agency, username: str, scopes=("warrants:write",)) -> str:
    user = UserFactory(username=username, role=Role.INTAKE_OFFICER)
    client, token = api_client_create(name=f"{agency.code} HI-1", user=user, scopes=list(scopes), days=30)
    ClientBinding.objects.create(client=client, agency=agency)
    return token


@pytest.fixture
def hi1_token(hi1_agency):
    return _token(hi1_agency, "agency-a-system")


@pytest.fixture
def other_token(other_agency):
    return _token(other_agency, "agency-b-system")


@pytest.fixture
def signed_pdf(ca):
    return pki.sign_pdf(pki.make_pdf(title="EPOC order"), ca.chief_a)
