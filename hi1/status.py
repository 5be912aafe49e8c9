"""A warrant's status as HI-1 sees it: values of the ETSI-owned dictionaries AuthorisationStatus and
LDTaskStatus (TS 103 120; sources and what could not be confirmed: design notes, "HI-1 interface"),
and the objects a GET answers with. Only values of those dictionaries are sent, always with
DictionaryOwner ETSI and the dictionary's name."""

from __future__ import annotations

from requests_app.workflow import Status

from . import xml
from .models import Object

AUTHORISATION_STATUS = {
    Status.RECEIVED: "AwaitingApproval",
    Status.VERIFIED: "AwaitingApproval",
    Status.SIGNATURE_FAILED: "Invalid",
    Status.REJECTED: "Rejected",
    Status.APPROVED: "Active",
    Status.EXPORTING: "Active",
    Status.EXPORTED: "Active",
    Status.DELIVERED: "Active",
    Status.NOTIFYING: "Active",
    Status.CLOSED: "Expired",
}
LDTASK_STATUS = {
    Status.RECEIVED: "AwaitingApproval",
    Status.VERIFIED: "AwaitingApproval",
    Status.SIGNATURE_FAILED: "Invalid",
    Status.REJECTED: "Rejected",
    Status.APPROVED: "AwaitingDisclosure",
    Status.EXPORTING: "AwaitingDisclosure",
    Status.EXPORTED: "AwaitingDisclosure",
    Status.DELIVERED: "Disclosed",
    Status.NOTIFYING: "Disclosed",
    Status.CLOSED: "Disclosed",
}
FOLLOW_UP_STATUS = {
    "RECEIVED": "AwaitingApproval",
    "SIGNATURE_FAILED": "Invalid",
    "IN_REVIEW": "AwaitingApproval",
    "DECIDED": "AwaitingDisclosure",
    "DISCLOSED": "Disclosed",
    "REFUSED": "Rejected",
}


def authorisation_status(warrant) -> str:
    return AUTHORISATION_STATUS[Status(warrant.status)]


def ldtask_status(warrant, task: Object | None = None) -> str:
    if task is not None and task.follow_up is not None:
        return FOLLOW_UP_STATUS.get(task.follow_up.status, "AwaitingApproval")
    return LDTASK_STATUS[Status(warrant.status)]


def object_element(parent, found: Object, warrant):
    """The HI1Object a GET answers with: its identifier and status, nothing of its content."""
    if found.kind == Object.Kind.AUTHORISATION:
        obj = xml.sub(parent, "HI1Object")
        obj.set(f"{{{xml.XSI}}}type", "auth:AuthorisationObject")
        xml.sub(obj, "ObjectIdentifier", str(found.object_id))
        xml.dictionary_entry(
            obj, "AuthorisationStatus", ("ETSI", "AuthorisationStatus", authorisation_status(warrant)), xml.AUTH
        )
    elif found.kind == Object.Kind.LDTASK:
        obj = xml.sub(parent, "HI1Object")
        obj.set(f"{{{xml.XSI}}}type", "task:LDTaskObject")
        xml.sub(obj, "ObjectIdentifier", str(found.object_id))
        xml.dictionary_entry(obj, "Status", ("ETSI", "LDTaskStatus", ldtask_status(warrant, found)), xml.TASK)
    elif found.kind == Object.Kind.DELIVERY:
        obj = xml.sub(parent, "HI1Object")
        obj.set(f"{{{xml.XSI}}}type", "delivery:DeliveryObject")
        xml.sub(obj, "ObjectIdentifier", str(found.object_id))
    else:
        obj = xml.sub(parent, "HI1Object")
        obj.set(f"{{{xml.XSI}}}type", "doc:DocumentObject")
        xml.sub(obj, "ObjectIdentifier", str(found.object_id))
    return obj
