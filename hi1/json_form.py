"""The JSON form of an HI-1 message (ETSI's JSON schemas of V1.15.1, shipped in hi1/schemas/json/): validated
against those schemas, then turned into the equivalent XML and sent down the same path as an XML message
(so the XML schemas check it again, strictly). The JSON form names elements as the XML does ("Header",
"auth:AuthorisationReference", "common:Owner"), repeated elements as arrays, the object type as
"@xsi:type": "{namespace}AuthorisationObject". Answers are XML."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from lxml import etree
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from . import xml
from .xml import Hi1Error

JSON_DIR = xml.SCHEMA_DIR / "json"
PREFIXES = {
    "": xml.CORE,
    "common": xml.COMMON,
    "auth": xml.AUTH,
    "task": xml.TASK,
    "doc": xml.DOC,
    "delivery": xml.DELIVERY,
    "etsi280": xml.ETSI280,
    "notification": "http://uri.etsi.org/03120/common/2016/02/Notification",
    "tp": "http://uri.etsi.org/03120/common/2022/07/TrafficPolicy",
}
PREFIX_OF = {namespace: prefix for prefix, namespace in PREFIXES.items() if prefix}
MAX_DEPTH = 40


def _enum_as_const(node: Any) -> Any:
    """ETSI's V1.15.1 JSON schemas give the object types as ``"enum": "{ns}Name"``, a string where JSON
    Schema wants a list: read as ``const`` (what is meant), else no concrete object could ever match."""
    if isinstance(node, dict):
        node = {key: _enum_as_const(value) for key, value in node.items()}
        if isinstance(node.get("enum"), str):
            node["const"] = node.pop("enum")
        return node
    if isinstance(node, list):
        return [_enum_as_const(value) for value in node]
    return node


@functools.cache
def validator() -> Draft202012Validator:
    resources = []
    for path in sorted(Path(JSON_DIR).glob("*.schema.json")):
        schema = _enum_as_const(json.loads(path.read_text()))
        resources.append((schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012)))
    registry = Registry().with_resources(resources)
    return Draft202012Validator({"$ref": "ts_103120_Core_2019_10"}, registry=registry)


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        raise Hi1Error(xml.E_VALIDATION, "The JSON message is nested too deeply.")
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def to_xml(data: bytes) -> bytes:
    """The XML equivalent of a JSON HI-1 message; ``Hi1Error`` when it is not JSON or fails the JSON schemas."""
    try:
        message = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise Hi1Error(xml.E_VALIDATION, "The message is not well-formed JSON.") from None
    if not isinstance(message, dict):
        raise Hi1Error(xml.E_VALIDATION, "The JSON message is not an HI1Message object.")
    _depth(message)
    error = next(iter(validator().iter_errors(message)), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        raise Hi1Error(xml.E_VALIDATION, f"The message does not match the JSON schemas of V1.15.1 (at {where}).")
    root = etree.Element(f"{{{xml.CORE}}}HI1Message", nsmap=xml.NSMAP)
    _fill(root, message)
    return xml.serialise(root)


def _qualified(key: str) -> str:
    prefix, _sep, local = key.rpartition(":")
    namespace = PREFIXES.get(prefix)
    if namespace is None or not local:
        raise Hi1Error(xml.E_VALIDATION, f"Unknown name {key[:80]!r} in the JSON message.")
    return f"{{{namespace}}}{local}"


def _xsi_type(value: str) -> str:
    namespace, _sep, local = value.removeprefix("{").partition("}")
    prefix = PREFIX_OF.get(namespace)
    if not prefix or not local:
        raise Hi1Error(xml.E_VALIDATION, f"Unknown object type {value[:120]!r} in the JSON message.")
    return f"{prefix}:{local}"


def _fill(element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "@xsi:type":
                element.set(f"{{{xml.XSI}}}type", _xsi_type(str(child)))
            elif key.startswith("@"):
                raise Hi1Error(xml.E_VALIDATION, f"Unknown attribute {key[:80]!r} in the JSON message.")
            else:
                for item in child if isinstance(child, list) else [child]:
                    _fill(etree.SubElement(element, _qualified(key)), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, int | float | str):
        element.text = str(value)
    elif value is not None:
        raise Hi1Error(xml.E_VALIDATION, "Unexpected value in the JSON message.")
