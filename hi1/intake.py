"""What a received HI-1 request does: each ActionRequest through the same service functions the web
form and the REST API use (requests_app.services, disclosure.followups.services), so that workflow,
audit, duplicate checks, signature checks and signals all happen as for any warrant; then the
response, one ActionResponse per ActionRequest."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from disclosure.followups import services as followups
from requests_app import documents, duplicates, services
from requests_app.models import Document, Warrant, WarrantTarget
from requests_app.services import TargetInput
from warrantdesk.audit import audit_record
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.models import AuditAction

from . import delivery, exchange, status, xml
from .models import Endpoint, Message, Object, Transaction
from .xml import Hi1Error

logger = logging.getLogger(__name__)

# EU e-Evidence (EPOC) time limits: 10 days, 8 hours in emergencies.
DEADLINE = dt.timedelta(days=10)
EMERGENCY_DEADLINE = dt.timedelta(hours=8)
EMERGENCY_VALUES = {"emergency", "urgent", "isemergency", "life-threatening"}
PHONE_FORMATS = {"internationale164", "nationale164", "e164number", "msisdn", "phonenumber"}
EMAIL_FORMATS = {"emailaddress", "internationalizedemailaddress"}
LIST_MAX = 1000
LIST_TYPES = {
    Object.Kind.AUTHORISATION: "Authorisation",
    Object.Kind.LDTASK: "LDTask",
    Object.Kind.DOCUMENT: "Document",
    Object.Kind.DELIVERY: "Delivery",
}
FOLLOW_UP_TYPE = "follow-up"  # RequestDetails/Type value of an LDTask naming pseudonyms


@dataclass
class Parsed:
    action_id: str
    verb: str
    element: Any  # the HI1Object or GET Identifier element (lxml)
    kind: str = ""
    object_id: str = ""
    associated: list[str] = field(default_factory=list)


def _object_kind(obj) -> str:
    xsi_type = obj.get(f"{{{xml.XSI}}}type", "")
    prefix, _sep, local = xsi_type.rpartition(":")
    namespace = obj.nsmap.get(prefix or None, "")
    return {
        (xml.AUTH, "AuthorisationObject"): Object.Kind.AUTHORISATION,
        (xml.TASK, "LDTaskObject"): Object.Kind.LDTASK,
        (xml.DOC, "DocumentObject"): Object.Kind.DOCUMENT,
    }.get((namespace, local), "")


def _parse_actions(root) -> list[Parsed]:
    parsed = []
    for request in root.iterfind("c:Payload/c:RequestPayload/c:ActionRequests/c:ActionRequest", xml.NS):
        action_id = xml.text(request, "c:ActionIdentifier")
        verb_element = request[1]
        verb = etree_local(verb_element.tag)
        if verb == "CREATE":
            obj = verb_element.find("c:HI1Object", xml.NS)
            parsed.append(
                Parsed(
                    action_id,
                    verb,
                    obj,
                    _object_kind(obj),
                    xml.text(obj, "c:ObjectIdentifier"),
                    [e.text.strip() for e in obj.iterfind("c:AssociatedObjects/c:AssociatedObject", xml.NS)],
                )
            )
        else:
            parsed.append(Parsed(action_id, verb, verb_element, object_id=xml.text(verb_element, "c:Identifier")))
    return parsed


def etree_local(tag: str) -> str:
    return tag.rpartition("}")[2]


class Request:
    """One received, schema-valid request message of ``endpoint`` sent with ``client``'s token."""

    def __init__(self, *, root, data: bytes, endpoint: Endpoint, actor, transaction_row: Transaction, base_url: str):
        self.root, self.data, self.endpoint, self.actor = root, data, endpoint, actor
        self.transaction_row, self.base_url = transaction_row, base_url
        self.actions = _parse_actions(root)
        self.by_id = {a.object_id: a for a in self.actions if a.verb == "CREATE"}
        self.results: dict[str, object] = {}  # action id -> Object list, or Hi1Error, or GET element builder
        self.warrants: dict[int, Warrant] = {}

    # --- the actions ---------------------------------------------------------------------------------

    def run(self) -> None:
        handled: set[str] = set()
        for action in self.actions:
            if action.verb == "CREATE" and action.kind == Object.Kind.AUTHORISATION:
                self._create_authorisation(action, handled)
        for action in self.actions:
            if action.action_id in self.results:
                continue
            try:
                if action.verb == "CREATE" and action.kind == Object.Kind.LDTASK:
                    self._create_follow_up(action, handled)
                elif action.verb == "CREATE" and action.kind == Object.Kind.DOCUMENT:
                    self._create_document(action)
                elif action.verb == "CREATE":
                    raise Hi1Error(xml.E_UNSUPPORTED, "Only Authorisation, LDTask and Document objects can be created.")
                elif action.verb == "GET":
                    self.results[action.action_id] = ("GET", self._get(action))
                elif action.verb == "LIST":
                    self.results[action.action_id] = ("LIST", self._list(action))
                else:
                    raise Hi1Error(xml.E_UNSUPPORTED, f"{action.verb} is not supported by this endpoint.")
            except Hi1Error as error:
                self.results[action.action_id] = error

    def _existing(self, object_id: str) -> Object | None:
        return (
            Object.objects.filter(endpoint__agency=self.endpoint.agency, object_id=object_id)
            .select_related("warrant")
            .first()
        )

    def _refuse_taken(self, *object_ids: str) -> None:
        for object_id in object_ids:
            if self._existing(object_id) is not None:
                raise Hi1Error(xml.E_CONFLICT, f"Object {object_id} already exists.")

    def _create_authorisation(self, action: Parsed, handled: set[str]) -> None:
        tasks = [
            a
            for a in self.actions
            if a.kind == Object.Kind.LDTASK and (action.object_id in a.associated or a.object_id in action.associated)
        ]
        docs = [
            a
            for a in self.actions
            if a.kind == Object.Kind.DOCUMENT and (action.object_id in a.associated or a.object_id in action.associated)
        ]
        related = [action, *tasks, *docs]
        try:
            objects = self._register(action, tasks, docs)
        except Hi1Error as error:
            for item in related:
                self.results[item.action_id] = error
        else:
            for item in related:
                self.results[item.action_id] = objects[item.object_id]
        handled.update(item.action_id for item in related)

    def _register(self, action: Parsed, tasks: list[Parsed], docs: list[Parsed]) -> dict[str, Object]:
        auth = action.element
        self._refuse_taken(*(item.object_id for item in (action, *tasks, *docs)))
        if not tasks:
            raise Hi1Error(xml.E_INVALID, "An Authorisation needs at least one associated LDTask naming its targets.")
        reference = xml.text(auth, "auth:AuthorisationReference")
        if not reference:
            raise Hi1Error(xml.E_INVALID, "AuthorisationReference (the warrant number) is missing.")
        approvals = auth.findall("auth:AuthorisationApprovalDetails", xml.NS)
        flags = [
            xml.dictionary(f, ".") for f in auth.iterfind("auth:AuthorisationFlags/auth:AuthorisationFlag", xml.NS)
        ]
        priority = xml.dictionary(auth, "auth:AuthorisationPriority")
        emergency = (
            any(xml.text(a, "common:ApprovalIsEmergency") == "true" for a in approvals)
            or any(f and f[2].lower() in EMERGENCY_VALUES for f in flags)
            or bool(priority and priority[2].lower() in EMERGENCY_VALUES)
        )
        targets, formats, start, end = [], [], None, None
        for task in tasks:
            details = task.element.find("task:RequestDetails", xml.NS)
            start = start or xml.qualified(xml.text(details, "task:StartTime"))
            end = end or xml.qualified(xml.text(details, "task:EndTime"))
            for value in task.element.iterfind("task:RequestDetails/task:RequestValues/task:RequestValue", xml.NS):
                owner, name = (
                    xml.text(value, "task:FormatType/task:FormatOwner"),
                    xml.text(value, "task:FormatType/task:FormatName"),
                )
                kind = (
                    WarrantTarget.Kind.PHONE
                    if name.lower() in PHONE_FORMATS
                    else WarrantTarget.Kind.EMAIL
                    if name.lower() in EMAIL_FORMATS
                    else WarrantTarget.Kind.UID
                )
                targets.append(TargetInput(kind, xml.text(value, "task:Value")))
                formats.append({"owner": owner, "name": name, "kind": kind})
        timespan = auth.find("auth:AuthorisationTimespan", xml.NS)
        start = start or xml.qualified(xml.text(timespan, "auth:StartTime"))
        end = end or xml.qualified(xml.text(timespan, "auth:EndTime"))
        if start is None or end is None:
            raise Hi1Error(xml.E_INVALID, "The period is missing: give StartTime and EndTime in RequestDetails.")
        if not targets:
            raise Hi1Error(xml.E_INVALID, "The LDTask names no target (RequestValues).")
        uploads = [(item, self._upload(item)) for item in docs]
        warrant_uploads = [u for u in uploads if u[1][1] == Document.Kind.WARRANT]
        if not warrant_uploads:
            raise Hi1Error(
                xml.E_DOCUMENT, "An Authorisation needs an associated DocumentObject of type Warrant (the signed PDF)."
            )
        for _item, (upload, _kind) in uploads:  # every file checked before anything is stored
            self._check_pdf(upload)
        approver = [
            {
                "name": xml.text(a, "common:ApproverDetails/common:ApproverName"),
                "role": xml.text(a, "common:ApproverDetails/common:ApproverRole"),
                "reference": xml.text(a, "common:ApprovalReference"),
                "at": xml.text(a, "common:ApprovalTimestamp"),
                "emergency": xml.text(a, "common:ApprovalIsEmergency") == "true",
            }
            for a in approvals
        ]
        legal_type = xml.dictionary(auth, "auth:AuthorisationLegalType")
        case_type = xml.dictionary(auth, "auth:AuthorisationTypeOfCase")
        desired = xml.dictionary(auth, "auth:AuthorisationDesiredStatus")
        legal_basis = " / ".join(f"{d[1]}: {d[2]}" for d in (legal_type, case_type) if d) or "HI-1 authorisation"
        notes = "\n".join(
            [f"Received through ETSI HI-1 from {self.endpoint.country_code}-{self.endpoint.unique_identifier}."]
            + [f"Approved by {a['name']}" + (f" ({a['role']})" if a["role"] else "") for a in approver if a["name"]]
            + ([f"Desired status: {desired[2]}"] if desired else [])
            + (
                [xml.text(auth, "auth:AuthorisationManualInformation")]
                if xml.text(auth, "auth:AuthorisationManualInformation")
                else []
            )
        )
        now = timezone.now()
        first_item, (first_upload, _kind) = warrant_uploads[0]
        try:
            warrant = services.warrant_register(
                actor=self.actor,
                agency=self.endpoint.agency,
                warrant_number=reference[:100],
                court=(xml.text(auth, "auth:AuthorisationJurisdiction") or "Not given (HI-1)")[:200],
                legal_basis=legal_basis[:300],
                received_at=now,
                deadline=now + (EMERGENCY_DEADLINE if emergency else DEADLINE),
                period_start=start,
                period_end=end,
                targets=targets,
                kind=Warrant.Kind.EMERGENCY if emergency else Warrant.Kind.ORDINARY,
                received_via=Warrant.Via.API,
                notes=notes,
                upload=first_upload,
            )
            created_docs = {first_item.object_id: services.current_warrant_document(warrant)}
            for item, (upload, doc_kind) in uploads:
                if item is first_item:
                    continue
                created_docs[item.object_id] = services.document_upload(
                    warrant=warrant, upload=upload, actor=self.actor, kind=doc_kind
                )
        except Exception as exc:
            raise _as_hi1(exc) from None
        self.warrants[warrant.pk] = warrant
        common = {"endpoint": self.endpoint, "warrant": warrant}
        objects = {
            action.object_id: Object(
                **common,
                object_id=action.object_id,
                kind=Object.Kind.AUTHORISATION,
                facts={
                    "legal_type": legal_type,
                    "priority": priority,
                    "desired_status": desired,
                    "approvals": approver,
                    "emergency": emergency,
                },
            )
        }
        for task in tasks:
            objects[task.object_id] = Object(
                **common, object_id=task.object_id, kind=Object.Kind.LDTASK, facts={"formats": formats}
            )
        for item in docs:
            objects[item.object_id] = Object(
                **common, object_id=item.object_id, kind=Object.Kind.DOCUMENT, document=created_docs[item.object_id]
            )
        Object.objects.bulk_create(objects.values())
        return objects

    def _upload(self, item: Parsed) -> tuple[SimpleUploadedFile, str]:
        body = item.element.find("doc:DocumentBody", xml.NS)
        contents = xml.text(body, "doc:Contents")
        if not contents:
            raise Hi1Error(xml.E_DOCUMENT, f"Document {item.object_id} has no DocumentBody/Contents.")
        try:
            data = base64.b64decode(contents, validate=False)
        except (binascii.Error, ValueError):
            raise Hi1Error(xml.E_DOCUMENT, f"Document {item.object_id}: the body is not base64.") from None
        checksum, checksum_type = xml.text(body, "doc:Checksum"), xml.text(body, "doc:ChecksumType")
        sha256_given = checksum and checksum_type.replace("-", "").upper() == "SHA256"
        if sha256_given and hashlib.sha256(data).hexdigest() != checksum.lower():
            raise Hi1Error(xml.E_DOCUMENT, f"Document {item.object_id}: the SHA-256 checksum does not match.")
        doc_type = xml.dictionary(item.element, "doc:DocumentType")
        kind = Document.Kind.WARRANT if doc_type and doc_type[2].lower() == "warrant" else Document.Kind.SUPPORTING
        name = xml.text(item.element, "doc:DocumentName") or f"{item.object_id}.pdf"
        if not name.lower().endswith(".pdf"):
            name += ".pdf"
        return SimpleUploadedFile(name[-200:], data, xml.text(body, "doc:ContentType") or "application/pdf"), kind

    def _check_pdf(self, upload) -> None:
        try:
            documents.check_pdf_upload(upload, max_bytes=settings.WARRANTDESK_MAX_UPLOAD_BYTES)
        except documents.UploadRejected as exc:
            raise Hi1Error(xml.E_DOCUMENT, f"Document refused: {exc}") from None
        finally:
            upload.seek(0)

    def _create_document(self, action: Parsed) -> None:
        self._refuse_taken(action.object_id)
        parent = next((o for o in map(self._existing, action.associated) if o is not None), None)
        if parent is None:
            raise Hi1Error(xml.E_NOT_FOUND, "The Document is associated with no known object.")
        upload, kind = self._upload(action)
        self._check_pdf(upload)
        try:
            document = services.document_upload(warrant=parent.warrant, upload=upload, actor=self.actor, kind=kind)
        except Exception as exc:
            raise _as_hi1(exc) from None
        self.warrants[parent.warrant_id] = parent.warrant
        self.results[action.action_id] = Object.objects.create(
            endpoint=self.endpoint,
            warrant=parent.warrant,
            object_id=action.object_id,
            kind=Object.Kind.DOCUMENT,
            document=document,
        )

    def _create_follow_up(self, action: Parsed, handled: set[str]) -> None:
        """An LDTask of type "follow-up" on a known Authorisation, naming pseudonyms (RequestValues, the
        justification in FormatType "justification"... kept simple: each value "pseudonym|why")."""
        self._refuse_taken(action.object_id)
        parent = next(
            (
                o
                for o in map(self._existing, action.associated)
                if o is not None and o.kind == Object.Kind.AUTHORISATION
            ),
            None,
        )
        if parent is None:
            raise Hi1Error(xml.E_NOT_FOUND, "The LDTask is associated with no known Authorisation.")
        details = action.element.find("task:RequestDetails", xml.NS)
        request_type = xml.dictionary(details, "task:Type")
        if not request_type or request_type[2].lower() != FOLLOW_UP_TYPE:
            raise Hi1Error(xml.E_UNSUPPORTED, f"A further LDTask on an Authorisation must be of Type {FOLLOW_UP_TYPE}.")
        tokens = []
        for value in details.iterfind("task:RequestValues/task:RequestValue", xml.NS):
            token, _sep, why = xml.text(value, "task:Value").partition("|")
            tokens.append(followups.TokenInput(token.strip(), why.strip()))
        docs = [a for a in self.actions if a.kind == Object.Kind.DOCUMENT and action.object_id in a.associated]
        if not docs:
            raise Hi1Error(xml.E_DOCUMENT, "A follow-up LDTask needs an associated signed DocumentObject.")
        upload, _kind = self._upload(docs[0])
        self._check_pdf(upload)
        now = timezone.now()
        try:
            request = followups.followup_register(
                warrant=parent.warrant,
                actor=self.actor,
                tokens=tokens,
                upload=upload,
                received_at=now,
                deadline=now + DEADLINE,
            )
        except Exception as exc:
            raise _as_hi1(exc) from None
        self.warrants[parent.warrant_id] = parent.warrant
        task = Object.objects.create(
            endpoint=self.endpoint,
            warrant=parent.warrant,
            object_id=action.object_id,
            kind=Object.Kind.LDTASK,
            follow_up=request,
            facts={"follow_up": request.reference},
        )
        doc = Object.objects.create(
            endpoint=self.endpoint,
            warrant=parent.warrant,
            object_id=docs[0].object_id,
            kind=Object.Kind.DOCUMENT,
            document=request.document,
        )
        self.results[action.action_id] = task
        self.results[docs[0].action_id] = doc

    def _get(self, action: Parsed):
        found = self._existing(action.object_id)
        if found is None:
            raise Hi1Error(xml.E_NOT_FOUND, f"No object {action.object_id} of this agency.")
        warrant = Warrant.objects.get(pk=found.warrant_id)
        if found.kind == Object.Kind.LDTASK and found.follow_up_id is None:
            delivery.deliver_if_ready(warrant=warrant, task=found, actor=self.actor, base_url=self.base_url)
            warrant.refresh_from_db()
        self.warrants[warrant.pk] = warrant
        return found, warrant

    def _list(self, action: Parsed) -> list[Object]:
        """The agency's objects (newest first, at most LIST_MAX), of one ObjectType when given."""
        wanted = xml.dictionary(action.element, "c:ObjectType")
        since = xml.qualified(xml.text(action.element, "c:LastChanged"))
        found = Object.objects.filter(endpoint__agency=self.endpoint.agency).order_by("-created_at", "-pk")
        if wanted:
            kinds = [kind for kind, name in LIST_TYPES.items() if name.lower() == wanted[2].lower()]
            found = found.filter(kind__in=kinds)
        if since:
            found = found.filter(created_at__gte=since)
        return list(found[:LIST_MAX])

    # --- the response --------------------------------------------------------------------------------

    def response(self) -> bytes:
        header = self.root.find("c:Header", xml.NS)
        receiver = xml.Endpoint(
            xml.text(header, "c:SenderIdentifier/c:CountryCode"),
            xml.text(header, "c:SenderIdentifier/c:UniqueIdentifier"),
        )
        root, payload = xml.message(
            sender=xml.our_endpoint(), receiver=receiver, transaction_id=xml.text(header, "c:TransactionIdentifier")
        )
        responses = xml.sub(xml.sub(payload, "ResponsePayload"), "ActionResponses")
        for action in self.actions:
            element = xml.sub(responses, "ActionResponse")
            xml.sub(element, "ActionIdentifier", action.action_id)
            result = self.results.get(action.action_id) or Hi1Error(xml.E_GENERIC, "Not processed.")
            if isinstance(result, Hi1Error):
                xml.error_information(element, result)
            elif isinstance(result, tuple) and result[0] == "LIST":
                listed = xml.sub(element, "LISTResponse")
                for found in result[1]:
                    record = xml.sub(listed, "ListResponseRecord")
                    xml.dictionary_entry(
                        record, "ObjectType", ("ETSI", "HI1ObjectType", LIST_TYPES[found.kind]), xml.CORE
                    )
                    xml.sub(record, "Identifier", str(found.object_id))
                    xml.sub(record, "Generation", "0")
                    xml.sub(record, "LastChanged", xml.seconds(found.created_at))
            elif isinstance(result, tuple):
                found, warrant = result[1]
                get = xml.sub(element, "GETResponse")
                status.object_element(get, found, warrant)
            else:
                xml.sub(xml.sub(element, "CREATEResponse"), "Identifier", action.object_id)
        return xml.serialise(root)


def _as_hi1(exc: Exception) -> Hi1Error:
    if isinstance(exc, Hi1Error):
        return exc
    if isinstance(exc, documents.UploadRejected):
        return Hi1Error(xml.E_DOCUMENT, f"Document refused: {exc}")
    if isinstance(exc, duplicates.PossibleDuplicate):
        return Hi1Error(xml.E_CONFLICT, "A possible duplicate: this warrant number or document is already logged.")
    if isinstance(exc, PermissionDenied):
        return Hi1Error(xml.E_NOT_PERMITTED, "This client's account may not do this.")
    if isinstance(exc, Conflict):
        return Hi1Error(xml.E_CONFLICT, str(exc))
    if isinstance(exc, DomainError):
        return Hi1Error(xml.E_INVALID, str(exc))
    logger.exception("HI-1 action failed")
    return Hi1Error(xml.E_GENERIC, "Internal error; the details are in the server log.")


def claim(endpoint: Endpoint, transaction_id: str, data: bytes) -> tuple[Transaction, bool]:
    """The transaction row of (endpoint, transaction id): (row, True) when this call made it."""
    digest = hashlib.sha256(data).hexdigest()
    try:
        with transaction.atomic():
            return Transaction.objects.create(
                endpoint=endpoint, transaction_id=uuid.UUID(transaction_id), request_sha256=digest
            ), True
    except IntegrityError:
        return Transaction.objects.get(endpoint=endpoint, transaction_id=transaction_id), False


def process(*, root, data: bytes, endpoint: Endpoint, actor, transaction_row: Transaction, base_url: str) -> bytes:
    request = Request(
        root=root, data=data, endpoint=endpoint, actor=actor, transaction_row=transaction_row, base_url=base_url
    )
    request.run()
    response = request.response()
    with transaction.atomic():
        for warrant in request.warrants.values():
            exchange.message_store(
                warrant=warrant,
                direction=Message.Direction.IN,
                kind=Message.Kind.REQUEST,
                data=data,
                actor=actor,
                transaction_row=transaction_row,
            )
            exchange.message_store(
                warrant=warrant,
                direction=Message.Direction.OUT,
                kind=Message.Kind.RESPONSE,
                data=response,
                actor=actor,
                transaction_row=transaction_row,
            )
        if not request.warrants:  # nothing of a case touched: both messages' hashes are audited all the same
            for action, kind, body in (
                (AuditAction.HI1_RECEIVED, Message.Kind.REQUEST, data),
                (AuditAction.HI1_SENT, Message.Kind.RESPONSE, response),
            ):
                audit_record(
                    action=action,
                    actor=actor,
                    details={
                        "kind": kind,
                        "sha256": exchange.sha256(body),
                        "size": len(body),
                        "transaction": str(transaction_row.transaction_id),
                    },
                )
        Transaction.objects.filter(pk=transaction_row.pk).update(response=response.decode(), completed=True)
    return response
