"""``POST /api/hi1/``: an HI-1 request in, its response out. ``GET /api/hi1/``: the agency's next
delivery (a DELIVER message), 204 when there is none. And the warrant page's download of a warrant as
an HI-1 message.

Order of the checks on a POST, each a whole-message HI-1 error with nothing stored: the size (413,
before a byte is parsed), the token (401), the client's scope and agency binding (403), the XML and
its schemas (400), the sender (403 unknown, 403 another agency's), the receiver (400), the action
identifiers (400, each once)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework import exceptions

from requests_app.models import Warrant
from requests_app.permissions import can_view
from warrantdesk.access import deny, refuse_auditors
from warrantdesk.api_clients import ClientTokenAuthentication
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from . import delivery, exchange, intake, json_form, roundtrip, xml
from .models import ClientBinding, Endpoint, Message
from .xml import Hi1Error

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/xml; charset=utf-8"
SCOPE = "warrants:write"  # an HI-1 client logs warrants: the scope of the REST API's warrant writes


def _xml(data: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse(data, status=status, content_type=CONTENT_TYPE)


def _refuse(request, error: Hi1Error, *, data: bytes = b"", client=None, receiver=None) -> HttpResponse:
    audit_record(
        action=AuditAction.HI1_REFUSED,
        actor_label=f"api-client:{client.prefix}" if client is not None else "anonymous",
        details={
            "error_code": error.code,
            "http": error.status,
            "sha256": exchange.sha256(data) if data else "",
            "size": len(data) if data else int(request.META.get("CONTENT_LENGTH") or 0),
        },
    )
    return _xml(xml.error_message(error, receiver=receiver), error.status)


def _client(request):
    try:
        found = ClientTokenAuthentication().authenticate(request)
    except exceptions.AuthenticationFailed as exc:
        raise Hi1Error(xml.E_CONFIGURATION, f"Authentication failed: {exc.detail}", status=401) from None
    if found is None:
        raise Hi1Error(
            xml.E_CONFIGURATION, "Send the agency's API token as 'Authorization: Bearer <token>'.", status=401
        )
    user, client = found
    if SCOPE not in client.scopes:
        raise Hi1Error(xml.E_CONFIGURATION, f"This client's token lacks the scope {SCOPE}.", status=403)
    binding = ClientBinding.objects.select_related("agency").filter(client=client).first()
    if binding is None or not binding.agency.active:
        raise Hi1Error(xml.E_CONFIGURATION, "This client is not bound to an active agency for HI-1.", status=403)
    return user, client, binding


@csrf_exempt
@login_not_required
@refuse_auditors  # a signed-in auditor takes nothing of a case here either (404, recorded)
@require_http_methods(["GET", "POST"])
def endpoint(request):
    client = None
    try:
        user, client, binding = _client(request)
    except Hi1Error as error:
        return _refuse(request, error)
    if request.method == "GET":
        return _fetch_delivery(user, binding)
    max_bytes = settings.WARRANTDESK_HI1_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        return _refuse(
            request, Hi1Error(xml.E_TOO_LARGE, f"The message is larger than {max_bytes} bytes.", 413), client=client
        )
    data = request.read(max_bytes + 1)
    sender = None  # known once the header is read: the refusal is then addressed to it
    try:
        if request.content_type == "application/json":
            if len(data) > max_bytes:
                raise Hi1Error(xml.E_TOO_LARGE, f"The message is larger than {max_bytes} bytes.", 413)
            data = json_form.to_xml(data)  # then checked, stored and answered as the XML it stands for
        root = xml.parse(data)
        header = root.find("c:Header", xml.NS)
        sender = xml.Endpoint(
            xml.text(header, "c:SenderIdentifier/c:CountryCode"),
            xml.text(header, "c:SenderIdentifier/c:UniqueIdentifier"),
        )
        found = (
            Endpoint.objects.select_related("agency")
            .filter(country_code=sender.country, unique_identifier=sender.identifier)
            .first()
        )
        if found is None:
            raise Hi1Error(xml.E_CONFIGURATION, f"Unknown sender {sender}.", status=403)
        if found.agency_id != binding.agency_id:
            raise Hi1Error(xml.E_CONFIGURATION, "This token belongs to another agency than the sender.", status=403)
        ours = xml.our_endpoint()
        receiver = xml.Endpoint(
            xml.text(header, "c:ReceiverIdentifier/c:CountryCode"),
            xml.text(header, "c:ReceiverIdentifier/c:UniqueIdentifier"),
        )
        if receiver != ours:
            raise Hi1Error(xml.E_IMPROPER_VALUE, f"This endpoint is {ours}, not {receiver}.")
        if root.find("c:Payload/c:RequestPayload", xml.NS) is None:
            raise Hi1Error(xml.E_NOT_SUPPORTED, "Only request messages are accepted here.")
        intake.check_action_identifiers(root)
    except Hi1Error as error:
        return _refuse(request, error, data=data, client=client, receiver=sender)
    transaction_id = xml.text(header, "c:TransactionIdentifier")
    row, new = intake.claim(found, transaction_id, data)
    if not new:
        if row.request_sha256 != exchange.sha256(data):
            reused = Hi1Error(xml.E_IMPROPER_VALUE, "This TransactionIdentifier was used for another message.", 409)
            return _refuse(request, reused, data=data, client=client, receiver=sender)
        if not row.completed:
            running = Hi1Error(xml.E_TRANSIENT, "This transaction is still being processed; ask again shortly.", 409)
            return _refuse(request, running, data=data, client=client, receiver=sender)
        return _xml(row.response.encode(), row.http_status)  # the same answer, nothing done twice
    try:
        response = intake.process(
            root=root,
            data=data,
            endpoint=found,
            actor=user,
            transaction_row=row,
            base_url=request.build_absolute_uri("/"),
        )
    except BaseException:
        row.delete()  # nothing done: the sender may send the transaction again
        raise
    return _xml(response)


def _fetch_delivery(user, binding) -> HttpResponse:
    message = delivery.next_delivery(binding.agency)
    if message is None:
        return HttpResponse(status=204)
    data = exchange.message_bytes(message)
    Message.objects.filter(pk=message.pk).update(fetched_at=timezone.now())
    audit_record(
        action=AuditAction.HI1_SENT,
        actor=user,
        warrant=message.warrant,
        obj=message,
        details={"kind": "fetched", "sha256": message.sha256, "size": message.size},
    )
    return _xml(data)


@require_GET
@refuse_auditors  # case content (targets, document bodies): an auditor takes no file of a case (404, recorded)
def warrant_export(request, pk: int):
    """The warrant as an HI-1 CREATE message (Authorisation, LDTask, Documents), for whoever may see it."""
    warrant = get_object_or_404(Warrant.objects.select_related("agency"), pk=pk)
    if not can_view(request.user, warrant):
        deny(request.user, object_type="warrant", object_id=pk, path=request.path)
        raise Http404
    data = roundtrip.warrant_message(warrant, actor=request.user)
    response = HttpResponse(data, content_type=CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{warrant.reference}-hi1.xml"'
    return response
