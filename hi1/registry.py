"""Who may speak HI-1: an agency's sender identifiers and the API clients bound to it. Changed from the
command line (``manage.py hi1_endpoint``) by whoever holds the server; each change audited as a
registry change."""

from __future__ import annotations

import getpass

from django.db import transaction

from requests_app.models import Agency
from warrantdesk.audit import audit_record
from warrantdesk.exceptions import DomainError
from warrantdesk.models import ApiClient, AuditAction

from .models import ClientBinding, Endpoint


def _audit(obj, **details) -> None:
    audit_record(action=AuditAction.REGISTRY_CHANGED, actor_label=f"cli:{getpass.getuser()}", obj=obj, details=details)


@transaction.atomic
def endpoint_add(*, agency: Agency, country: str, identifier: str) -> Endpoint:
    country, identifier = country.strip().upper(), identifier.strip()
    if len(country) != 2 or not country.isalpha() or not identifier:
        raise DomainError("give a two-letter country code and the sender's unique identifier", code="bad_endpoint")
    if Endpoint.objects.filter(country_code=country, unique_identifier=identifier).exists():
        raise DomainError(f"{country}-{identifier} is already registered", code="endpoint_taken")
    endpoint = Endpoint.objects.create(agency=agency, country_code=country, unique_identifier=identifier)
    _audit(endpoint, op="hi1_endpoint_added", agency=agency.code, endpoint=f"{country}-{identifier}")
    return endpoint


@transaction.atomic
def client_bind(*, agency: Agency, client: ApiClient) -> ClientBinding:
    if ClientBinding.objects.filter(client=client).exists():
        raise DomainError(f"the client {client.prefix} is already bound to an agency", code="client_bound")
    binding = ClientBinding.objects.create(client=client, agency=agency)
    _audit(binding, op="hi1_client_bound", agency=agency.code, client=client.prefix)
    return binding
