"""Fixtures shared by the requests_app tests: the test PKI and an agency that trusts it."""

import pytest

from requests_app import registry
from tests import pki


@pytest.fixture
def ca() -> pki.TestPKI:
    """The test PKI of tests/pki.py (made once per session): agencies A and B, their chiefs and investigators."""
    return pki.pki()


@pytest.fixture
def agency_a(db, ca):
    """Agency A with its trust anchor and no investigator yet (modules that need some extend this fixture)."""
    agency = registry.agency_save(code="agency-a", name="Agency A", actor=None)
    registry.anchor_add(agency=agency, certificate=ca.agency_a.anchors_pem, actor=None)
    return agency
