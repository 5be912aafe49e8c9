"""What a received HI-1 request does: each ActionRequest through the same service functions the web
form and the REST API use (requests_app.services, disclosure.followups.services), so that workflow,
audit, duplicate checks, signature checks and signals all happen as for any warrant; then the
response, one ActionResponse per ActionRequest.

A message that creates is stored whole or not at all. It is checked whole first (every object, every
document, every association, every duplicate) without writing anything; one refused action refuses
the message: the refused action answers its own error, an action associated with a refused object
answers 3018, every other one 3000 "not applied", and nothing is stored. Its CREATEs must concern one
case (one write unit): a new Authorisation with its LDTasks and Documents, or one follow-up LDTask
with its Document, or Documents for one existing Authorisation. The unit's first write (the warrant
with its targets and warrant document, the follow-up request, the first document) is one transaction
and refuses the message like a check when it fails; what it cannot contain (further documents, each
their own transaction in requests_app) was checked before it began, so only a technical failure can
stop them, and the response then says exactly what exists (design notes, "HI-1 interface").
A message of GETs and LISTs only is answered action by action."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from disclosure.followups import services as followups
from requests_app import documents, duplicates, services
from requests_app.models import Document, Warrant, WarrantTarget
from requests_app.permissions import can
from requests_app.services import TargetInput
from requests_app.workflow import Status
from warrantdesk.audit import audit_record
from warrantdesk.exceptions import Conflict, DomainError
from warrantdesk.keystore import KeyUnavailable
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
# Where a document may still be added to a warrant (requests_app.services._document_record).
DOCUMENT_STATUSES = {Status.RECEIVED, Status.SIGNATURE_FAILED, Status.VERIFIED}


@dataclass
class Parsed:
    action_id: str
    verb: str
    element: Any  # the HI1Object or GET Identifier element (lxml)
    kind: str = ""
    object_id: str = ""
    associated: list[str] = field(default_factory=list)


@dataclass
class Upload:
    """A DocumentObject's body, checked (a PDF within the limits, its checksum right) and not yet stored."""

    action: Parsed
    file: SimpleUploadedFile
    kind: str
    sha256: str


@dataclass
class NewWarrant:
    auth: Parsed
    tasks: list[Parsed]
    uploads: list[Upload]  # the warrant document first
    fields: dict[str, Any]
    facts: dict[str, Any]
    formats: list[dict[str, str]]


@dataclass
class FollowUp:
    task: Parsed
    parent: Object
    tokens: list[followups.TokenInput]
    upload: Upload


@dataclass
class MoreDocuments:
    parent: Object
    uploads: list[Upload]


class Refused(Exception):
    def __init__(self, action: Parsed, error: Hi1Error):
        super().__init__(error.description)
        self.action, self.error = action, error


def _object_kind(obj) -> str:
    xsi_type = obj.get(f"{{{xml.XSI}}}type", "")
    prefix, _sep, local = xsi_type.rpartition(":")
    namespace = obj.nsmap.get(prefix or None, "")
    return {
        (xml.AUTH, "AuthorisationObject"): Object.Kind.AUTHORISATION,
        (xml.TASK, "LDTaskObject"): Object.Kind.LDTASK,
        (xml.DOC, "DocumentObject"): Object.Kind.DOCUMENT,
    }.get((namespace, local), "")


def _action_requests(root):
    return root.iterfind("c:Payload/c:RequestPayload/c:ActionRequests/c:ActionRequest", xml.NS)


def check_action_identifiers(root) -> None:
    """Each ActionIdentifier once in a message (a response answers each by it)."""
    counts = Counter(xml.text(request, "c:ActionIdentifier") for request in _action_requests(root))
    twice = sorted(action_id for action_id, n in counts.items() if n > 1)
    if twice:
        raise Hi1Error(xml.E_DUPLICATE_ACTION_ID, f"ActionIdentifier {twice[0]} is used more than once.")


def _parse_actions(root) -> list[Parsed]:
    parsed = []
    for request in _action_requests(root):
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


def _linked(one: Parsed, other: Parsed) -> bool:
    return other.object_id in one.associated or one.object_id in other.associated


class Request:
    """One received, schema-valid request message of ``endpoint`` sent with ``client``'s token."""

    def __init__(self, *, root, data: bytes, endpoint: Endpoint, actor, transaction_row: Transaction, base_url: str):
        self.root, self.data, self.endpoint, self.actor = root, data, endpoint, actor
        self.transaction_row, self.base_url = transaction_row, base_url
        self.actions = _parse_actions(root)
        self.creates = [a for a in self.actions if a.verb == "CREATE"]
        self.results: dict[str, object] = {}  # action id -> Object, Hi1Error, or ("GET" | "LIST", what)
        self.refused: dict[str, Hi1Error] = {}  # action id -> its own refusal
        self.warrants: dict[int, Warrant] = {}

    # --- the actions ---------------------------------------------------------------------------------

    def run(self) -> None:
        unit = self._check()
        if self.refused and self.creates:
            self._refuse_all()
            return
        for action_id, error in self.refused.items():  # GETs and LISTs only: each answers for itself
            self.results[action_id] = error
        if unit is not None:
            try:
                self._write(unit)
            except Refused as refusal:  # the unit's first write failed: nothing is stored
                self.refused[refusal.action.action_id] = refusal.error
                self.results.clear()
                self.warrants.clear()
                self._refuse_all()
                return
        for action in self.actions:
            if action.action_id in self.results:
                continue
            try:
                if action.verb == "GET":
                    self.results[action.action_id] = ("GET", self._get(action))
                elif action.verb == "LIST":
                    self.results[action.action_id] = ("LIST", self._list(action))
            except Hi1Error as error:
                self.results[action.action_id] = error

    def _refuse(self, action: Parsed, error: Hi1Error) -> None:
        self.refused.setdefault(action.action_id, error)

    def _refuse_all(self) -> None:
        """The message refused whole: each action's own refusal, or why it was not applied."""
        refused_objects = {a.object_id: a for a in self.creates if a.action_id in self.refused}
        first = next(a for a in self.actions if a.action_id in self.refused)
        for action in self.actions:
            if action.action_id in self.refused:
                self.results[action.action_id] = self.refused[action.action_id]
                continue
            links = [refused_objects[o] for o in (*action.associated, action.object_id) if o in refused_objects]
            if links and action.verb in {"CREATE", "GET"}:
                self.results[action.action_id] = Hi1Error(
                    xml.E_LINK_FAILED,
                    f"Not applied: it is associated with object {links[0].object_id}, refused in this message "
                    f"(action {links[0].action_id}).",
                )
            else:
                self.results[action.action_id] = Hi1Error(
                    xml.E_GENERAL,
                    f"Not applied: action {first.action_id} of this message was refused, and a message is "
                    "stored whole or not at all.",
                )

    def _existing(self, object_id: str) -> Object | None:
        return (
            Object.objects.filter(endpoint__agency=self.endpoint.agency, object_id=object_id)
            .select_related("warrant", "follow_up")
            .first()
        )

    # --- checking (nothing is written) ----------------------------------------------------------------

    def _check(self) -> NewWarrant | FollowUp | MoreDocuments | None:
        """Every check of every action, before anything is written; the one write unit of the message."""
        seen: set[str] = set()
        for action in self.actions:
            if action.verb not in {"CREATE", "GET", "LIST"}:
                self._refuse(action, Hi1Error(xml.E_NOT_SUPPORTED, f"{action.verb} is not supported by this endpoint."))
            elif action.verb == "CREATE" and not action.kind:
                self._refuse(
                    action,
                    Hi1Error(xml.E_NOT_SUPPORTED, "Only Authorisation, LDTask and Document objects can be created."),
                )
            elif action.verb == "CREATE" and action.object_id in seen:
                self._refuse(
                    action,
                    Hi1Error(xml.E_ALREADY_EXISTS, f"Object {action.object_id} is created twice in this message."),
                )
            elif action.verb == "CREATE" and self._existing(action.object_id) is not None:
                self._refuse(action, Hi1Error(xml.E_ALREADY_EXISTS, f"Object {action.object_id} already exists."))
            if action.verb == "CREATE":
                seen.add(action.object_id)
        created = {a.object_id for a in self.creates}
        for action in self.actions:
            if action.verb == "GET" and action.object_id not in created and self._existing(action.object_id) is None:
                self._refuse(action, Hi1Error(xml.E_GET_NOT_FOUND, f"No object {action.object_id} of this agency."))
        units = self._units()
        if not units:
            return None
        (key, actions), *others = units.items()
        for _key, extra in others:
            for action in extra:
                self._refuse(
                    action,
                    Hi1Error(
                        xml.E_NOT_SUPPORTED,
                        "One case per message: a new Authorisation with its LDTasks and Documents, one follow-up "
                        "LDTask with its Document, or Documents for one existing Authorisation.",
                    ),
                )
        checks = {
            "new": self._check_new_warrant,
            "follow-up": self._check_follow_up,
            "documents": self._check_documents,
        }
        try:
            return checks[key[0]](actions)
        except Refused as refusal:
            self._refuse(refusal.action, refusal.error)
            return None

    def _units(self) -> dict[tuple[str, str], list[Parsed]]:
        """The CREATEs of the message by the write unit each belongs to, in the message's order."""
        creates = [a for a in self.creates if a.kind]
        auths = [a for a in creates if a.kind == Object.Kind.AUTHORISATION]
        tasks = [a for a in creates if a.kind == Object.Kind.LDTASK]
        unit_of: dict[str, tuple[str, str]] = {}
        for auth in auths:
            unit_of[auth.object_id] = ("new", auth.object_id)
        for task in tasks:
            owner = next((a for a in auths if _linked(task, a)), None)
            if owner is not None:
                unit_of[task.object_id] = ("new", owner.object_id)
            elif self._authorisation_of(task) is not None:
                unit_of[task.object_id] = ("follow-up", task.object_id)
            else:
                self._refuse(
                    task, Hi1Error(xml.E_LINK_NOT_FOUND, "The LDTask is associated with no known Authorisation.")
                )
        units: dict[tuple[str, str], list[Parsed]] = {}
        for action in creates:
            if action.kind == Object.Kind.LDTASK and action.object_id not in unit_of:
                continue
            key = unit_of.get(action.object_id)
            if key is None:  # a Document: with an object of this message, or with one that exists
                in_message = [o for o in (*auths, *tasks) if _linked(action, o)]
                linked = next((unit_of[o.object_id] for o in in_message if o.object_id in unit_of), None)
                parent = next((p for p in map(self._existing, action.associated) if p is not None), None)
                if linked is None and in_message:  # with an object refused in this message: answered 3018
                    continue
                if linked is not None:
                    key = linked
                elif parent is not None:
                    key = ("documents", str(parent.warrant_id))
                else:
                    self._refuse(
                        action,
                        Hi1Error(xml.E_LINK_NOT_FOUND, "The Document is associated with no known object."),
                    )
                    continue
            units.setdefault(key, []).append(action)
        return units

    def _authorisation_of(self, task: Parsed) -> Object | None:
        """The known Authorisation an LDTask of this message is associated with."""
        return next(
            (o for o in map(self._existing, task.associated) if o is not None and o.kind == Object.Kind.AUTHORISATION),
            None,
        )

    def _check_new_warrant(self, actions: list[Parsed]) -> NewWarrant | None:
        auth_action = next(a for a in actions if a.kind == Object.Kind.AUTHORISATION)
        tasks = [a for a in actions if a.kind == Object.Kind.LDTASK]
        docs = [a for a in actions if a.kind == Object.Kind.DOCUMENT]
        auth = auth_action.element
        if not self.actor.has_perm("requests_app.add_warrant"):
            raise Refused(auth_action, Hi1Error(xml.E_CONFIGURATION, "This client's account may not log warrants."))
        reference = xml.text(auth, "auth:AuthorisationReference")
        if not reference:
            raise Refused(
                auth_action, Hi1Error(xml.E_MISSING, "AuthorisationReference (the warrant number) is missing.")
            )
        if not tasks:
            raise Refused(
                auth_action,
                Hi1Error(xml.E_MISSING, "An Authorisation needs at least one associated LDTask naming its targets."),
            )
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
            named = 0
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
                identifier = xml.text(value, "task:Value")
                if identifier:
                    named += 1
                    targets.append(TargetInput(kind, identifier))
                    formats.append({"owner": owner, "name": name, "kind": kind})
            if not named:
                raise Refused(task, Hi1Error(xml.E_MISSING, "The LDTask names no target (RequestValues)."))
        timespan = auth.find("auth:AuthorisationTimespan", xml.NS)
        start = start or xml.qualified(xml.text(timespan, "auth:StartTime"))
        end = end or xml.qualified(xml.text(timespan, "auth:EndTime"))
        if start is None or end is None:
            raise Refused(
                tasks[0],
                Hi1Error(xml.E_MISSING, "The period is missing: give StartTime and EndTime in RequestDetails."),
            )
        if start >= end:
            raise Refused(tasks[0], Hi1Error(xml.E_IMPROPER_VALUE, "The period must end after it starts."))
        uploads = [self._upload(item) for item in docs]
        uploads.sort(key=lambda u: u.kind != Document.Kind.WARRANT)  # the (first) warrant document first
        if not uploads or uploads[0].kind != Document.Kind.WARRANT:
            raise Refused(
                auth_action,
                Hi1Error(
                    xml.E_MISSING,
                    "An Authorisation needs an associated DocumentObject of type Warrant (the signed PDF).",
                ),
            )
        if len(uploads) > 1 and not self.actor.has_perm("requests_app.add_document"):
            raise Refused(
                uploads[1].action, Hi1Error(xml.E_CONFIGURATION, "This client's account may not add documents.")
            )
        self._refuse_duplicates(uploads, warrant=None)
        if duplicates.find(agency=self.endpoint.agency, warrant_number=reference[:100], user=self.actor):
            raise Refused(
                auth_action,
                Hi1Error(xml.E_ALREADY_EXISTS, "A possible duplicate: this warrant number is already logged."),
            )
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
        manual = xml.text(auth, "auth:AuthorisationManualInformation")
        notes = "\n".join(
            [f"Received through ETSI HI-1 from {self.endpoint.country_code}-{self.endpoint.unique_identifier}."]
            + [f"Approved by {a['name']}" + (f" ({a['role']})" if a["role"] else "") for a in approver if a["name"]]
            + ([f"Desired status: {desired[2]}"] if desired else [])
            + ([manual] if manual else [])
        )
        fields = {
            "warrant_number": reference[:100],
            "court": (xml.text(auth, "auth:AuthorisationJurisdiction") or "Not given (HI-1)")[:200],
            "legal_basis": legal_basis[:300],
            "emergency": emergency,
            "period_start": start,
            "period_end": end,
            "targets": targets,
            "notes": notes,
        }
        facts = {
            "legal_type": legal_type,
            "priority": priority,
            "desired_status": desired,
            "approvals": approver,
            "emergency": emergency,
        }
        return NewWarrant(auth_action, tasks, uploads, fields, facts, formats)

    def _check_follow_up(self, actions: list[Parsed]) -> FollowUp:
        """An LDTask of type "follow-up" on a known Authorisation, naming pseudonyms (each RequestValue
        "pseudonym|why"), with its signed DocumentObject."""
        task = next(a for a in actions if a.kind == Object.Kind.LDTASK)
        parent = self._authorisation_of(task)
        if parent is None:  # checked when the units were made; gone since?
            raise Refused(task, Hi1Error(xml.E_LINK_NOT_FOUND, "The LDTask is associated with no known Authorisation."))
        details = task.element.find("task:RequestDetails", xml.NS)
        request_type = xml.dictionary(details, "task:Type")
        if not request_type or request_type[2].lower() != FOLLOW_UP_TYPE:
            raise Refused(
                task,
                Hi1Error(
                    xml.E_NOT_SUPPORTED, f"A further LDTask on an Authorisation must be of Type {FOLLOW_UP_TYPE}."
                ),
            )
        tokens = []
        for value in details.iterfind("task:RequestValues/task:RequestValue", xml.NS):
            token, _sep, why = xml.text(value, "task:Value").partition("|")
            tokens.append(followups.TokenInput(token.strip(), why.strip()))
        docs = [a for a in actions if a.kind == Object.Kind.DOCUMENT]
        if not docs:
            raise Refused(
                task, Hi1Error(xml.E_MISSING, "A follow-up LDTask needs an associated signed DocumentObject.")
            )
        if len(docs) > 1:
            raise Refused(docs[1], Hi1Error(xml.E_NOT_SUPPORTED, "A follow-up LDTask takes one DocumentObject."))
        return FollowUp(task, parent, tokens, self._upload(docs[0]))

    def _check_documents(self, actions: list[Parsed]) -> MoreDocuments:
        """Documents for an existing case: each as an upload of the web form would be, checked all first."""
        parent = next(p for p in map(self._existing, actions[0].associated) if p is not None)
        warrant = parent.warrant
        if not can(self.actor, "requests_app.add_document", warrant):
            raise Refused(actions[0], Hi1Error(xml.E_CONFIGURATION, "This client's account may not add documents."))
        if warrant.status not in DOCUMENT_STATUSES:
            raise Refused(
                actions[0],
                Hi1Error(xml.E_GENERAL, f"Documents can no longer be added to this case ({warrant.status})."),
            )
        uploads = [self._upload(action) for action in actions]
        self._refuse_duplicates(uploads, warrant=warrant)
        return MoreDocuments(parent, uploads)

    def _refuse_duplicates(self, uploads: list[Upload], *, warrant: Warrant | None) -> None:
        """The same file twice in the message, already attached to this case, or held by another case."""
        seen: set[str] = set()
        for upload in uploads:
            if upload.sha256 in seen or (
                warrant is not None and Document.objects.filter(warrant=warrant, sha256=upload.sha256).exists()
            ):
                raise Refused(
                    upload.action, Hi1Error(xml.E_ALREADY_EXISTS, "This exact file is already attached to the case.")
                )
            seen.add(upload.sha256)
            if duplicates.find(agency=self.endpoint.agency, sha256s=[upload.sha256], user=self.actor, exclude=warrant):
                raise Refused(
                    upload.action,
                    Hi1Error(xml.E_ALREADY_EXISTS, "A possible duplicate: this document is already logged."),
                )

    def _upload(self, item: Parsed) -> Upload:
        body = item.element.find("doc:DocumentBody", xml.NS)
        contents = xml.text(body, "doc:Contents")
        if not contents:
            raise Refused(item, Hi1Error(xml.E_MISSING, f"Document {item.object_id} has no DocumentBody/Contents."))
        try:
            data = base64.b64decode(contents, validate=False)
        except (binascii.Error, ValueError):
            raise Refused(
                item, Hi1Error(xml.E_IMPROPER_VALUE, f"Document {item.object_id}: the body is not base64.")
            ) from None
        checksum, checksum_type = xml.text(body, "doc:Checksum"), xml.text(body, "doc:ChecksumType")
        sha256_given = checksum and checksum_type.replace("-", "").upper() == "SHA256"
        if sha256_given and hashlib.sha256(data).hexdigest() != checksum.lower():
            raise Refused(
                item,
                Hi1Error(xml.E_IMPROPER_VALUE, f"Document {item.object_id}: the SHA-256 checksum does not match."),
            )
        doc_type = xml.dictionary(item.element, "doc:DocumentType")
        kind = Document.Kind.WARRANT if doc_type and doc_type[2].lower() == "warrant" else Document.Kind.SUPPORTING
        name = xml.text(item.element, "doc:DocumentName") or f"{item.object_id}.pdf"
        if not name.lower().endswith(".pdf"):
            name += ".pdf"
        upload = SimpleUploadedFile(name[-200:], data, xml.text(body, "doc:ContentType") or "application/pdf")
        try:
            checked = documents.check_pdf_upload(upload, max_bytes=settings.WARRANTDESK_MAX_UPLOAD_BYTES)
        except documents.UploadRejected as exc:
            raise Refused(item, Hi1Error(xml.E_IMPROPER_VALUE, f"Document {item.object_id} refused: {exc}")) from None
        finally:
            upload.seek(0)
        return Upload(item, upload, kind, checked.sha256)

    # --- writing (everything was checked) -------------------------------------------------------------

    def _write(self, unit: NewWarrant | FollowUp | MoreDocuments) -> None:
        if isinstance(unit, NewWarrant):
            self._write_new_warrant(unit)
        elif isinstance(unit, FollowUp):
            self._write_follow_up(unit)
        else:
            self._write_documents(unit)

    def _first_write(self, action: Parsed, write):
        """The unit's first write, one transaction: when it fails, nothing of the message is stored."""
        try:
            return write()
        except Exception as exc:
            raise Refused(action, _as_hi1(exc)) from None

    def _more_documents(self, warrant: Warrant, uploads: list[Upload]) -> dict[str, Document]:
        """Each further document (its own transaction in requests_app), checked before the first write:
        only a technical failure stops one here, and the response says which exist."""
        created: dict[str, Document] = {}
        for position, upload in enumerate(uploads):
            try:
                created[upload.action.object_id] = services.document_upload(
                    warrant=warrant, upload=upload.file, actor=self.actor, kind=upload.kind
                )
            except Exception as exc:
                self.results[upload.action.action_id] = _as_hi1(exc)
                for later in uploads[position + 1 :]:
                    self.results[later.action.action_id] = Hi1Error(
                        xml.E_TRANSIENT,
                        f"Not stored: document {upload.action.object_id} could not be stored; send this one again "
                        "in a new message.",
                    )
                break
        return created

    def _write_new_warrant(self, unit: NewWarrant) -> None:
        fields, now = dict(unit.fields), timezone.now()
        emergency = fields.pop("emergency")
        first, *others = unit.uploads
        warrant = self._first_write(
            unit.auth,
            lambda: services.warrant_register(
                actor=self.actor,
                agency=self.endpoint.agency,
                received_at=now,
                deadline=now + (EMERGENCY_DEADLINE if emergency else DEADLINE),
                kind=Warrant.Kind.EMERGENCY if emergency else Warrant.Kind.ORDINARY,
                received_via=Warrant.Via.API,
                upload=first.file,
                **fields,
            ),
        )
        self.warrants[warrant.pk] = warrant
        created = {first.action.object_id: services.current_warrant_document(warrant)}
        created.update(self._more_documents(warrant, others))
        common = {"endpoint": self.endpoint, "warrant": warrant}
        objects = [Object(**common, object_id=unit.auth.object_id, kind=Object.Kind.AUTHORISATION, facts=unit.facts)]
        objects += [
            Object(**common, object_id=task.object_id, kind=Object.Kind.LDTASK, facts={"formats": unit.formats})
            for task in unit.tasks
        ]
        objects += [
            Object(**common, object_id=object_id, kind=Object.Kind.DOCUMENT, document=document)
            for object_id, document in created.items()
        ]
        self._record(objects, [unit.auth, *unit.tasks, *(u.action for u in unit.uploads)])

    def _write_follow_up(self, unit: FollowUp) -> None:
        now = timezone.now()
        warrant = unit.parent.warrant
        request = self._first_write(
            unit.task,
            lambda: followups.followup_register(
                warrant=warrant,
                actor=self.actor,
                tokens=unit.tokens,
                upload=unit.upload.file,
                received_at=now,
                deadline=now + DEADLINE,
            ),
        )
        self.warrants[warrant.pk] = warrant
        common = {"endpoint": self.endpoint, "warrant": warrant}
        objects = [
            Object(
                **common,
                object_id=unit.task.object_id,
                kind=Object.Kind.LDTASK,
                follow_up=request,
                facts={"follow_up": request.reference},
            ),
            Object(
                **common, object_id=unit.upload.action.object_id, kind=Object.Kind.DOCUMENT, document=request.document
            ),
        ]
        self._record(objects, [unit.task, unit.upload.action])

    def _write_documents(self, unit: MoreDocuments) -> None:
        warrant = unit.parent.warrant
        first, *others = unit.uploads
        document = self._first_write(
            first.action,
            lambda: services.document_upload(warrant=warrant, upload=first.file, actor=self.actor, kind=first.kind),
        )
        self.warrants[warrant.pk] = warrant
        created = {first.action.object_id: document, **self._more_documents(warrant, others)}
        objects = [
            Object(
                endpoint=self.endpoint, warrant=warrant, object_id=object_id, kind=Object.Kind.DOCUMENT, document=doc
            )
            for object_id, doc in created.items()
        ]
        self._record(objects, [u.action for u in unit.uploads])

    def _record(self, objects: list[Object], actions: list[Parsed]) -> None:
        """The HI-1 objects of what was stored; each action answers with its object (or its error)."""
        by_id = {str(o.object_id): o for o in objects}
        try:
            with transaction.atomic():
                Object.objects.bulk_create(objects)
        except IntegrityError:  # an identifier taken by a message of the agency's received meanwhile
            for object_id, obj in list(by_id.items()):
                try:
                    with transaction.atomic():
                        obj.save()
                except IntegrityError:
                    del by_id[object_id]
        for action in actions:
            if action.action_id in self.results:
                continue
            self.results[action.action_id] = by_id.get(action.object_id) or Hi1Error(
                xml.E_ALREADY_EXISTS, f"Object {action.object_id} was created meanwhile by another message."
            )

    # --- reading --------------------------------------------------------------------------------------

    def _get(self, action: Parsed):
        found = self._existing(action.object_id)
        if found is None:
            raise Hi1Error(xml.E_GET_NOT_FOUND, f"No object {action.object_id} of this agency.")
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
            result = self.results.get(action.action_id) or Hi1Error(xml.E_GENERAL, "Not processed.")
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
    """A service's refusal as an HI-1 error (Annex D codes); anything unforeseen is logged."""
    if isinstance(exc, Hi1Error):
        return exc
    if isinstance(exc, documents.UploadRejected):
        return Hi1Error(xml.E_IMPROPER_VALUE, f"Document refused: {exc}")
    if isinstance(exc, duplicates.PossibleDuplicate):
        return Hi1Error(
            xml.E_ALREADY_EXISTS, "A possible duplicate: this warrant number or document is already logged."
        )
    if isinstance(exc, PermissionDenied):
        return Hi1Error(xml.E_CONFIGURATION, "This client's account may not do this.")
    if isinstance(exc, KeyUnavailable):
        return Hi1Error(xml.E_TRANSIENT, "The case's keys are not available; nothing was stored.")
    if isinstance(exc, Conflict):
        return Hi1Error(xml.E_GENERAL, str(exc))
    if isinstance(exc, DomainError):
        return Hi1Error(xml.E_IMPROPER_VALUE, str(exc))
    logger.exception("HI-1 action failed")
    return Hi1Error(xml.E_TRANSIENT, "Internal error; nothing of this action was stored (details in the server log).")


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
    stored: list[str] = []  # the sealed messages written, removed again if this transaction does not commit
    try:
        with transaction.atomic():
            for warrant in request.warrants.values():
                for direction, kind, body in (
                    (Message.Direction.IN, Message.Kind.REQUEST, data),
                    (Message.Direction.OUT, Message.Kind.RESPONSE, response),
                ):
                    message = exchange.message_store(
                        warrant=warrant,
                        direction=direction,
                        kind=kind,
                        data=body,
                        actor=actor,
                        transaction_row=transaction_row,
                    )
                    stored.append(message.file)
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
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise
    return response
