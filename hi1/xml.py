"""HI-1 messages as XML: the hardened parser, the schema check against the shipped ETSI V1.15.1 schemas,
and the builders of the messages warrantdesk sends (responses, deliveries, exported warrants).

Parsing refuses before anything is expanded or fetched: the size is checked first (by the view), then
any DOCTYPE (internal subset, external DTD, entity declarations) is refused outright, and the parser
itself neither loads DTDs, nor resolves entities, nor touches the network, nor accepts huge trees.
The schemas are loaded from hi1/schemas/ only, through a resolver that serves those files and
refuses every other address.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from lxml import etree

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
ETSI_VERSION = "V1.15.1"

CORE = "http://uri.etsi.org/03120/common/2019/10/Core"
COMMON = "http://uri.etsi.org/03120/common/2016/02/Common"
ETSI280 = "http://uri.etsi.org/03280/common/2017/07"
AUTH = "http://uri.etsi.org/03120/common/2020/09/Authorisation"
TASK = "http://uri.etsi.org/03120/common/2020/09/Task"
DOC = "http://uri.etsi.org/03120/common/2020/09/Document"
DELIVERY = "http://uri.etsi.org/03120/common/2019/10/Delivery"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {None: CORE, "common": COMMON, "auth": AUTH, "task": TASK, "doc": DOC, "delivery": DELIVERY, "xsi": XSI}
NS = {"c": CORE, "common": COMMON, "auth": AUTH, "task": TASK, "doc": DOC, "delivery": DELIVERY}


class Hi1Error(Exception):
    """A refusal with an HI-1 error code, a plain description and the HTTP status of a whole-message error."""

    def __init__(self, code: int, description: str, status: int = 400):
        super().__init__(description)
        self.code, self.description, self.status = code, description, status


# The error codes of TS 103 120 Annex D (table D.1), those warrantdesk answers with: what each refusal
# gets is listed in README "HI-1 interface", the sources and the choices in the design notes. The numbers
# are the standard's; a code is never reused for another meaning.
E_GENERAL = 3000  # general business logic error (also: not applied, another action of the message was refused)
E_NOT_SUPPORTED = 3001  # feature not supported
E_DUPLICATE_ACTION_ID = 3002
E_TRANSIENT = 3003  # transient technical error: nothing was done, the message may be sent again
E_CONFIGURATION = 3004  # configuration issue: this sender, token or account is not set up for this
E_MISSING = 3005  # required element missing
E_IMPROPER_VALUE = 3007
E_ALREADY_EXISTS = 3010  # object already exists (an ObjectIdentifier, a warrant number, a document)
E_GET_NOT_FOUND = 3014
E_LINK_NOT_FOUND = 3016  # an AssociatedObject does not exist
E_LINK_FAILED = 3018  # an AssociatedObject was refused in the same message
E_VALIDATION = 3020  # not well-formed, not valid against the schemas, or a DTD
E_TOO_LARGE = 3022  # message too large


class _ShippedSchemasOnly(etree.Resolver):
    """Serve the files of hi1/schemas/ and nothing else (no network, no other file)."""

    def resolve(self, url, pubid, context):
        name = (url or "").rsplit("/", 1)[-1]
        path = SCHEMA_DIR / name
        if url and url.startswith("file:") and path.is_file() and path.resolve() == Path(url[len("file://") :]):
            return self.resolve_filename(str(path), context)
        raise OSError(f"schema address refused: {url!r}")


def _target_namespace(path: Path) -> str:
    root = etree.parse(str(path), etree.XMLParser(no_network=True, load_dtd=False)).getroot()
    return root.get("targetNamespace")


@functools.cache
def schema() -> etree.XMLSchema:
    """Every shipped schema, imported by one wrapper schema with the files' own locations (the ETSI
    files import each other by namespace only)."""
    imports = "".join(
        f'<xs:import namespace="{_target_namespace(path)}" schemaLocation="{path.as_uri()}"/>'
        for path in sorted(SCHEMA_DIR.glob("*.xsd"))
    )
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:warrantdesk:hi1">'
        f"{imports}</xs:schema>"
    )
    # The shipped files are trusted (the W3C signature schema declares entities in its internal subset).
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=True)
    parser.resolvers.add(_ShippedSchemasOnly())
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser, base_url=SCHEMA_DIR.as_uri() + "/"))


def _hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


_DOCTYPE_MARKERS = tuple(
    text.encode(codec) for text in ("<!DOCTYPE", "<!doctype") for codec in ("utf-8", "utf-16-le", "utf-16-be")
)


def parse(data: bytes) -> etree._Element:
    """The root of a received message; ``Hi1Error`` when it is not well-formed XML, holds a DOCTYPE
    (a DTD, internal or external: entity expansion and XXE have no way in) or fails the schemas."""
    max_bytes = settings.WARRANTDESK_HI1_MAX_BYTES
    if len(data) > max_bytes:
        raise Hi1Error(E_TOO_LARGE, f"The message is larger than {max_bytes} bytes.", status=413)
    if any(marker in data for marker in _DOCTYPE_MARKERS):  # refused before the parser sees it
        raise Hi1Error(E_VALIDATION, "Document type declarations (DTDs, entities) are not accepted.")
    try:
        tree = etree.fromstring(data, _hardened_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise Hi1Error(E_VALIDATION, f"The message is not well-formed XML (line {exc.lineno or 0}).") from None
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise Hi1Error(E_VALIDATION, "Document type declarations (DTDs, entities) are not accepted.")
    root = tree.getroot()
    for element in root.iter():
        if isinstance(element, etree._Entity):  # an unexpanded entity reference: refused as well
            raise Hi1Error(E_VALIDATION, "Entity references are not accepted.")
    validator = schema()
    if not validator.validate(tree):
        error = validator.error_log.last_error
        where = f"line {error.line}: " if error is not None else ""
        message = (error.message if error is not None else "invalid")[:300]
        raise Hi1Error(
            E_VALIDATION, f"The message does not match the ETSI TS 103 120 {ETSI_VERSION} schemas ({where}{message})."
        )
    if root.tag != f"{{{CORE}}}HI1Message":
        raise Hi1Error(E_VALIDATION, "The document is not an HI1Message.")
    return root


def validate(data: bytes) -> None:
    """Raise ``Hi1Error`` unless ``data`` is a valid HI-1 message (used by the tests on what warrantdesk sends)."""
    parse(data)


# --- reading --------------------------------------------------------------------------------------------


def text(element, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def dictionary(element, path: str) -> tuple[str, str, str] | None:
    found = element.find(path, NS) if element is not None else None
    if found is None:
        return None
    return (text(found, "common:Owner"), text(found, "common:Name"), text(found, "common:Value"))


def qualified(value: str) -> dt.datetime | None:
    """An etsi:QualifiedDateTime (the schema already checked its form: an offset is always there)."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True)
class Endpoint:
    country: str
    identifier: str

    def __str__(self) -> str:
        return f"{self.country}-{self.identifier}"


# --- writing --------------------------------------------------------------------------------------------


def _sub(parent, ns: str, name: str, value: str | None = None):
    element = etree.SubElement(parent, f"{{{ns}}}{name}")
    if value is not None:
        element.text = value
    return element


def sub(parent, name: str, value: str | None = None, ns: str = CORE):
    return _sub(parent, ns, name, value)


def dictionary_entry(parent, name: str, entry: tuple[str, str, str], ns: str):
    element = _sub(parent, ns, name)
    for field, value in zip(("Owner", "Name", "Value"), entry, strict=True):
        _sub(element, COMMON, field, value)
    return element


def microseconds(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def our_endpoint() -> Endpoint:
    return Endpoint(settings.WARRANTDESK_HI1_COUNTRY, settings.WARRANTDESK_HI1_IDENTIFIER)


def message(*, sender: Endpoint, receiver: Endpoint, transaction_id: str | None = None, now=None):
    """A new HI1Message with its header; returns (root, payload)."""
    root = etree.Element(f"{{{CORE}}}HI1Message", nsmap=NSMAP)
    header = sub(root, "Header")
    for name, endpoint in (("SenderIdentifier", sender), ("ReceiverIdentifier", receiver)):
        element = sub(header, name)
        sub(element, "CountryCode", endpoint.country)
        sub(element, "UniqueIdentifier", endpoint.identifier)
    sub(header, "TransactionIdentifier", transaction_id or str(uuid.uuid4()))
    sub(header, "Timestamp", microseconds(now or dt.datetime.now(dt.UTC)))
    version = sub(header, "Version")
    sub(version, "ETSIVersion", ETSI_VERSION)
    sub(version, "NationalProfileOwner", "warrantdesk")
    sub(version, "NationalProfileVersion", "1")
    return root, sub(root, "Payload")


def serialise(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def error_message(error: Hi1Error, *, receiver: Endpoint | None = None, transaction_id: str | None = None) -> bytes:
    """A whole-message refusal: a response whose payload is ErrorInformation."""
    root, payload = message(
        sender=our_endpoint(), receiver=receiver or Endpoint("XX", "unknown"), transaction_id=transaction_id
    )
    info = sub(sub(payload, "ResponsePayload"), "ErrorInformation")
    sub(info, "ErrorCode", str(error.code))
    sub(info, "ErrorDescription", error.description[:1000] or "Error")
    return serialise(root)


def error_information(parent, error: Hi1Error, name: str = "ErrorInformation"):
    info = sub(parent, name)
    sub(info, "ErrorCode", str(error.code))
    sub(info, "ErrorDescription", error.description[:1000] or "Error")
    return info


def pretty(data: bytes, *, elide_bodies: bool = True) -> str:
    """A stored message for people: indented, document and delivery bodies elided (their size kept)."""
    root = etree.fromstring(data, _hardened_parser())
    if elide_bodies:
        for path in (".//doc:Contents", ".//delivery:Data"):
            for element in root.iterfind(path, NS):
                element.text = f"[{len(element.text or '')} base64 characters elided]"
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")
