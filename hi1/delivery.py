"""The HI-1 DELIVER of a finished export: once the warrant is honoured and its package is ready, a
DeliveryObject referencing the signed package (its SHA-256 and a one-time link, issued through
disclosure's own ``export_issue_link``) goes out as an HI-1 message. Pull-based: it is made when the
agency asks for the LDTask's status, stored in the case's exchange, and fetched with ``GET /api/hi1/``."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

from django.db import transaction
from django.urls import reverse

from disclosure import services as disclosure
from disclosure.models import Export
from requests_app.workflow import Status

from . import exchange, xml
from .models import Message, Object


def deliver_if_ready(*, warrant, task: Object, actor, base_url: str) -> Message | None:
    if warrant.status != Status.EXPORTED:
        return None
    export = (
        Export.objects.filter(warrant=warrant, status=Export.Status.READY, kind=Export.Kind.CONVERSATIONS)
        .order_by("-pk")
        .first()
    )
    if export is None or Object.objects.filter(warrant=warrant, kind=Object.Kind.DELIVERY, export=export).exists():
        return None
    endpoint = task.endpoint
    link, token = disclosure.export_issue_link(
        export=export, actor=actor, recipient=f"HI-1 {endpoint.country_code}-{endpoint.unique_identifier}"
    )
    reference = {
        "package_sha256": export.package_sha256,
        "url": base_url.rstrip("/") + reverse("link-download", args=[token]),
        "expires_at": link.expires_at.isoformat(),
        "one_time": True,
        "warrant": warrant.reference,
    }
    data = json.dumps(reference, sort_keys=True).encode()
    delivery_id = str(uuid.uuid4())
    associated = list(
        Object.objects.filter(
            warrant=warrant, kind__in=[Object.Kind.AUTHORISATION, Object.Kind.LDTASK], follow_up=None
        ).values_list("object_id", flat=True)
    )
    root, payload = xml.message(
        sender=xml.our_endpoint(), receiver=xml.Endpoint(endpoint.country_code, endpoint.unique_identifier)
    )
    action = xml.sub(xml.sub(xml.sub(payload, "RequestPayload"), "ActionRequests"), "ActionRequest")
    xml.sub(action, "ActionIdentifier", "0")
    deliver = xml.sub(action, "DELIVER")
    xml.sub(deliver, "Identifier", delivery_id)
    obj = xml.sub(deliver, "HI1Object")
    obj.set(f"{{{xml.XSI}}}type", "delivery:DeliveryObject")
    xml.sub(obj, "ObjectIdentifier", delivery_id)
    linked = xml.sub(obj, "AssociatedObjects")
    for object_id in associated:
        xml.sub(linked, "AssociatedObject", str(object_id))
    xml.sub(obj, "DeliveryID", str(uuid.uuid4()), ns=xml.DELIVERY)
    xml.sub(obj, "SequenceNumber", "1", ns=xml.DELIVERY)
    xml.sub(obj, "LastSequence", "true", ns=xml.DELIVERY)
    binary = xml.sub(xml.sub(obj, "Delivery", ns=xml.DELIVERY), "BinaryData", ns=xml.DELIVERY)
    xml.sub(binary, "Data", base64.b64encode(data).decode(), ns=xml.DELIVERY)
    xml.sub(binary, "ContentType", "application/vnd.warrantdesk.package-reference+json", ns=xml.DELIVERY)
    xml.sub(binary, "Checksum", hashlib.sha256(data).hexdigest(), ns=xml.DELIVERY)
    xml.sub(binary, "ChecksumType", "SHA256", ns=xml.DELIVERY)
    message = xml.serialise(root)
    with transaction.atomic():
        Object.objects.create(
            endpoint=endpoint,
            warrant=warrant,
            object_id=delivery_id,
            kind=Object.Kind.DELIVERY,
            export=export,
            facts={"package_sha256": export.package_sha256, "link": link.pk},
        )
        return exchange.message_store(
            warrant=warrant, direction=Message.Direction.OUT, kind=Message.Kind.DELIVER, data=message, actor=actor
        )


def next_delivery(agency) -> Message | None:
    """The oldest DELIVER message of ``agency`` not yet fetched."""
    return (
        Message.objects.filter(warrant__agency=agency, kind=Message.Kind.DELIVER, fetched_at__isnull=True)
        .order_by("created_at", "pk")
        .first()
    )
