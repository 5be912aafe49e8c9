"""A warrant, however it was logged, as an HI-1 CREATE message: Authorisation, one LDTask with its
targets and period, and its warrant documents with their bodies. Sent in again by the agency it
would log the same warrant (the tests submit one)."""

from __future__ import annotations

import base64
import uuid

from requests_app import services
from requests_app.models import Document, WarrantTarget
from warrantdesk.audit import audit_record
from warrantdesk.models import AuditAction

from . import exchange, xml
from .models import Endpoint

FORMAT = {
    WarrantTarget.Kind.PHONE: ("ETSI", "InternationalE164"),
    WarrantTarget.Kind.EMAIL: ("ETSI", "EmailAddress"),
    WarrantTarget.Kind.UID: ("warrantdesk", "AccountID"),
}


def warrant_message(warrant, *, actor) -> bytes:
    endpoint = Endpoint.objects.filter(agency=warrant.agency).order_by("pk").first()
    sender = (
        xml.Endpoint(endpoint.country_code, endpoint.unique_identifier)
        if endpoint
        else xml.Endpoint("XX", warrant.agency.code)
    )
    root, payload = xml.message(sender=sender, receiver=xml.our_endpoint())
    actions = xml.sub(xml.sub(payload, "RequestPayload"), "ActionRequests")
    auth_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    documents = list(warrant.documents.filter(kind=Document.Kind.WARRANT).order_by("uploaded_at", "pk"))
    doc_ids = [str(uuid.uuid4()) for _ in documents]

    def create(number: int, kind: str, object_id: str, associated: list[str]):
        action = xml.sub(actions, "ActionRequest")
        xml.sub(action, "ActionIdentifier", str(number))
        obj = xml.sub(xml.sub(action, "CREATE"), "HI1Object")
        obj.set(f"{{{xml.XSI}}}type", kind)
        xml.sub(obj, "ObjectIdentifier", object_id)
        linked = xml.sub(obj, "AssociatedObjects")
        for other in associated:
            xml.sub(linked, "AssociatedObject", other)
        return obj

    auth = create(0, "auth:AuthorisationObject", auth_id, [task_id, *doc_ids])
    xml.sub(auth, "AuthorisationReference", warrant.warrant_number, ns=xml.AUTH)
    xml.dictionary_entry(
        auth, "AuthorisationLegalType", ("warrantdesk", "LegalBasis", warrant.legal_basis[:255]), xml.AUTH
    )
    timespan = xml.sub(auth, "AuthorisationTimespan", ns=xml.AUTH)
    xml.sub(timespan, "StartTime", xml.seconds(warrant.period_start), ns=xml.AUTH)
    xml.sub(timespan, "EndTime", xml.seconds(warrant.period_end), ns=xml.AUTH)
    if warrant.is_emergency:
        approval = xml.sub(auth, "AuthorisationApprovalDetails", ns=xml.AUTH)
        xml.sub(approval, "ApprovalIsEmergency", "true", ns=xml.COMMON)
    xml.sub(auth, "AuthorisationJurisdiction", warrant.court, ns=xml.AUTH)

    task = create(1, "task:LDTaskObject", task_id, [auth_id])
    details = xml.sub(task, "RequestDetails", ns=xml.TASK)
    xml.sub(details, "StartTime", xml.seconds(warrant.period_start), ns=xml.TASK)
    xml.sub(details, "EndTime", xml.seconds(warrant.period_end), ns=xml.TASK)
    values = xml.sub(details, "RequestValues", ns=xml.TASK)
    for target in warrant.targets.all():
        value = xml.sub(values, "RequestValue", ns=xml.TASK)
        owner, name = FORMAT[WarrantTarget.Kind(target.kind)]
        fmt = xml.sub(value, "FormatType", ns=xml.TASK)
        xml.sub(fmt, "FormatOwner", owner, ns=xml.TASK)
        xml.sub(fmt, "FormatName", name, ns=xml.TASK)
        xml.sub(value, "Value", target.identifier, ns=xml.TASK)

    for number, (document, doc_id) in enumerate(zip(documents, doc_ids, strict=True), start=2):
        obj = create(number, "doc:DocumentObject", doc_id, [auth_id])
        xml.sub(obj, "DocumentName", document.original_name, ns=xml.DOC)
        xml.dictionary_entry(obj, "DocumentType", ("ETSI", "DocumentType", "Warrant"), xml.DOC)
        with services.document_file(document, verify=True) as handle:
            body = handle.read()
        element = xml.sub(obj, "DocumentBody", ns=xml.DOC)
        xml.sub(element, "Contents", base64.b64encode(body).decode(), ns=xml.DOC)
        xml.sub(element, "ContentType", "application/pdf", ns=xml.DOC)
        xml.sub(element, "Checksum", document.sha256, ns=xml.DOC)
        xml.sub(element, "ChecksumType", "SHA256", ns=xml.DOC)
    data = xml.serialise(root)
    audit_record(
        action=AuditAction.HI1_SENT,
        actor=actor,
        warrant=warrant,
        obj=warrant,
        details={
            "kind": "export",
            "sha256": exchange.sha256(data),
            "size": len(data),
            "documents": [d.sha256 for d in documents],
        },
    )
    return data
