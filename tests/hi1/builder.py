"""A small builder of HI-1 request messages for the tests (what an agency's system would send)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid

from hi1 import xml

AGENCY_ENDPOINT = xml.Endpoint("DE", "agency-a-hi1")


def new_id() -> str:
    return str(uuid.uuid4())


class MessageBuilder:
    def __init__(
        self, *, sender: xml.Endpoint = AGENCY_ENDPOINT, receiver: xml.Endpoint | None = None, transaction_id=None
    ):
        self.root, payload = xml.message(
            sender=sender, receiver=receiver or xml.our_endpoint(), transaction_id=transaction_id
        )
        self.actions = xml.sub(xml.sub(payload, "RequestPayload"), "ActionRequests")
        self.count = 0

    def _action(self):
        action = xml.sub(self.actions, "ActionRequest")
        xml.sub(action, "ActionIdentifier", str(self.count))
        self.count += 1
        return action

    def _create(self, kind: str, object_id: str, associated=()):
        obj = xml.sub(xml.sub(self._action(), "CREATE"), "HI1Object")
        obj.set(f"{{{xml.XSI}}}type", kind)
        xml.sub(obj, "ObjectIdentifier", object_id)
        if associated:
            linked = xml.sub(obj, "AssociatedObjects")
            for other in associated:
                xml.sub(linked, "AssociatedObject", other)
        return obj

    def authorisation(
        self,
        object_id: str,
        *,
        associated=(),
        reference="EPOC-2026-0042",
        emergency=False,
        approver="Kim Min-jun",
        start=None,
        end=None,
    ):
        obj = self._create("auth:AuthorisationObject", object_id, associated)
        xml.sub(obj, "AuthorisationReference", reference, ns=xml.AUTH)
        # As an EPOC-form-to-HI-1 translator writes it (design notes, "HI-1 interface").
        xml.dictionary_entry(obj, "AuthorisationLegalType", ("ETSI", "EPOCLegalType", "EPOC"), xml.AUTH)
        xml.dictionary_entry(
            obj, "AuthorisationDesiredStatus", ("ETSI", "AuthorisationDesiredStatus", "SubmittedToCSP"), xml.AUTH
        )
        if start and end:
            timespan = xml.sub(obj, "AuthorisationTimespan", ns=xml.AUTH)
            xml.sub(timespan, "StartTime", xml.seconds(start), ns=xml.AUTH)
            xml.sub(timespan, "EndTime", xml.seconds(end), ns=xml.AUTH)
        approval = xml.sub(obj, "AuthorisationApprovalDetails", ns=xml.AUTH)
        xml.sub(approval, "ApprovalType", "Judicial", ns=xml.COMMON)
        details = xml.sub(approval, "ApproverDetails", ns=xml.COMMON)
        xml.sub(details, "ApproverName", approver, ns=xml.COMMON)
        xml.sub(details, "ApproverRole", "Chief investigator", ns=xml.COMMON)
        xml.sub(approval, "ApprovalIsEmergency", "true" if emergency else "false", ns=xml.COMMON)
        xml.sub(obj, "AuthorisationJurisdiction", "Seoul Central District Court", ns=xml.AUTH)
        return obj

    def ldtask(
        self, object_id: str, *, associated, identifiers, start: dt.datetime, end: dt.datetime, request_type=None
    ):
        obj = self._create("task:LDTaskObject", object_id, associated)
        details = xml.sub(obj, "RequestDetails", ns=xml.TASK)
        if request_type:
            xml.dictionary_entry(details, "Type", ("warrantdesk", "RequestType", request_type), xml.TASK)
        xml.sub(details, "StartTime", xml.seconds(start), ns=xml.TASK)
        xml.sub(details, "EndTime", xml.seconds(end), ns=xml.TASK)
        values = xml.sub(details, "RequestValues", ns=xml.TASK)
        for (owner, name), value in identifiers:
            element = xml.sub(values, "RequestValue", ns=xml.TASK)
            fmt = xml.sub(element, "FormatType", ns=xml.TASK)
            xml.sub(fmt, "FormatOwner", owner, ns=xml.TASK)
            xml.sub(fmt, "FormatName", name, ns=xml.TASK)
            xml.sub(element, "Value", value, ns=xml.TASK)
        return obj

    def document(self, object_id: str, pdf: bytes, *, associated, doc_type="Warrant", checksum=None):
        obj = self._create("doc:DocumentObject", object_id, associated)
        xml.sub(obj, "DocumentName", "warrant.pdf", ns=xml.DOC)
        xml.dictionary_entry(obj, "DocumentType", ("ETSI", "DocumentType", doc_type), xml.DOC)
        body = xml.sub(obj, "DocumentBody", ns=xml.DOC)
        xml.sub(body, "Contents", base64.b64encode(pdf).decode(), ns=xml.DOC)
        xml.sub(body, "ContentType", "application/pdf", ns=xml.DOC)
        xml.sub(body, "Checksum", checksum or hashlib.sha256(pdf).hexdigest(), ns=xml.DOC)
        xml.sub(body, "ChecksumType", "SHA256", ns=xml.DOC)
        return obj

    def get(self, object_id: str):
        xml.sub(xml.sub(self._action(), "GET"), "Identifier", object_id)

    def list(self, object_type: str | None = None):
        request = xml.sub(self._action(), "LIST")
        if object_type:
            xml.dictionary_entry(request, "ObjectType", ("ETSI", "HI1ObjectType", object_type), xml.CORE)

    def bytes(self) -> bytes:
        return xml.serialise(self.root)


def warrant_message(
    pdf: bytes, *, start, end, emergency=False, transaction_id=None, sender=AGENCY_ENDPOINT, identifiers=None
):
    """An Authorisation, its LDTask and its signed warrant document; returns (bytes, ids)."""
    ids = {"auth": new_id(), "task": new_id(), "doc": new_id()}
    builder = MessageBuilder(sender=sender, transaction_id=transaction_id)
    builder.authorisation(ids["auth"], associated=[ids["task"], ids["doc"]], emergency=emergency)
    builder.ldtask(
        ids["task"],
        associated=[ids["auth"]],
        identifiers=identifiers
        or [(("warrantdesk", "AccountID"), "target-1"), (("ETSI", "InternationalE164"), "821012345678")],
        start=start,
        end=end,
    )
    builder.document(ids["doc"], pdf, associated=[ids["auth"]])
    return builder.bytes(), ids


def json_form(data: bytes) -> bytes:
    """The JSON form of an XML HI-1 message (names with their prefixes, arrays where the JSON schemas say so)."""
    import json
    from pathlib import Path

    from lxml import etree

    from hi1 import json_form as hi1_json

    arrays = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict) and value.get("type") == "array":
                    arrays.add(key)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in Path(hi1_json.JSON_DIR).glob("*.schema.json"):
        walk(json.loads(path.read_text()))

    def name(tag: str) -> str:
        namespace, _sep, local = tag[1:].partition("}")
        prefix = hi1_json.PREFIX_OF.get(namespace, "")
        return f"{prefix}:{local}" if prefix else local

    integers = {"ActionIdentifier", "Generation", "SequenceNumber", "ErrorCode"}
    booleans = {"ApprovalIsEmergency", "LastSequence"}

    def convert(element):
        if len(element) == 0:
            local = element.tag.rpartition("}")[2]
            text = element.text or ""
            return int(text) if local in integers else text == "true" if local in booleans else text
        result: dict = {}
        xsi_type = element.get(f"{{{xml.XSI}}}type")
        if xsi_type:
            prefix, _sep, local = xsi_type.partition(":")
            result["@xsi:type"] = f"{{{hi1_json.PREFIXES[prefix]}}}{local}"
        for child in element:
            key = name(child.tag)
            value = convert(child)
            if key.rpartition(":")[2] in arrays or key in arrays:
                result.setdefault(key, []).append(value)
            else:
                result[key] = value
        return result

    return json.dumps(convert(etree.fromstring(data))).encode()
