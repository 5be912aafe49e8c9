"""Small helpers shared by the test modules (no fixtures here: see conftest.py)."""

import base64
import datetime as dt
import email
import email.policy
import io
import json
import socket
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from disclosure import notifications, services
from disclosure.models import Account, Delivery, Disclosure, Export, Notification
from disclosure.packages import package_open
from requests_app.models import FollowUpRequest, FollowUpToken, Investigator, Warrant
from tests.factories import AccountFactory, InvestigatorFactory
from warrantdesk.two_factor import mark_verified

BOUNDARY = "warrantdesk-test-boundary"
MULTIPART_CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def client_for(user) -> Client:
    """A client signed in as ``user``, past the second factor (warrantdesk.two_factor.mark_verified)."""
    client = Client()
    client.force_login(user)
    mark_verified(client, user)
    return client


def sign_in(client: Client, username: str, password: str | None = None, *, follow: bool = False):
    """Sign in through the pages, as a person does: the password, then the current code of the user's
    authenticator (a device is enrolled for the user if it has none). Returns the second step's answer,
    or the login page's when the password is refused."""
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.factories import PASSWORD
    from warrantdesk.two_factor import confirmed_totp, current_code

    response = client.post(reverse("login"), {"username": username, "password": password or PASSWORD})
    if response.status_code != 302:
        return response
    user = get_user_model().objects.get(username=username)
    device = confirmed_totp(user) or TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # the same code may serve twice in a test
    device.refresh_from_db()
    return client.post(
        reverse("two-factor-verify"), {"code": current_code(device), "next": response["Location"]}, follow=follow
    )


def multipart_body(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> bytes:
    """A multipart body built by hand, so that a file name reaches the server exactly as written.

    Django's test client keeps only the base name of an uploaded file, which would hide the
    "../" and "..\\" names these tests need to send.
    """
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
        )
    for name, (file_name, content) in files.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def stored_files(root) -> list[Path]:
    root = Path(root)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def web_form_fields(agency, **overrides) -> dict[str, str]:
    """The fields of the "Log a warrant" form, as a browser sends them (no file)."""
    fields = {
        "agency": str(agency.pk),
        "warrant_number": "2026-압수-2001",
        "court": "Seoul Central District Court",
        "case_number": "2026고단77",
        "legal_basis": "Criminal Procedure Act art. 215",
        "kind": "ORDINARY",
        "received_at": "2026-03-02T09:00",
        "received_via": "PORTAL",
        "deadline": "2026-03-09T18:00",
        "period_start": "2026-01-01T00:00",
        "period_end": "2026-02-28T23:59",
        "targets": "user-42\nphone: 010-9876-5432",
        "rooms_text": "",
        "notes": "",
    }
    fields.update(overrides)
    return fields


def api_create_fields(agency, **overrides) -> dict:
    """The JSON body of POST /api/v1/warrants/."""
    fields = {
        "agency": agency.code,
        "warrant_number": "KNPA-2026-0500",
        "court": "Suwon District Court",
        "legal_basis": "Criminal Procedure Act art. 215",
        "received_at": "2026-03-02T09:00:00+09:00",
        "deadline": "2026-03-09T18:00:00+09:00",
        "period_start": "2026-01-01T00:00:00+09:00",
        "period_end": "2026-02-28T23:59:00+09:00",
        "targets": [{"kind": "UID", "identifier": "user-42"}, {"kind": "PHONE", "identifier": "010-9876-5432"}],
    }
    fields.update(overrides)
    return fields


def record_valid_signature(warrant):
    """Arrange: a valid chief-investigator verdict on the warrant's current document.

    For tests whose subject is the workflow, not the cryptography (that is tested with real
    signatures in test_signatures.py and test_signature_flow.py)."""
    from requests_app.models import SignatureCheck, SignatureOutcome
    from requests_app.services import current_warrant_document

    return SignatureCheck.objects.create(
        document=current_warrant_document(warrant),
        outcome=SignatureOutcome.VALID,
        signer_subject="CN=Arranged chief investigator",
        reasons=["Arranged by the test."],
    )


def verify_signature(warrant, *, actor):
    """Arrange the verdict, then let the system move the warrant to verified as the check would."""
    from requests_app import services
    from requests_app.workflow import Status

    record_valid_signature(warrant)
    return services.warrant_transition(warrant=warrant, to=Status.VERIFIED, actor=actor, system=True)


# --- routes, collected from the URL resolver -------------------------------------------------------
# (tests that walk every route: a route added later is covered without anyone remembering the tests)

SENTINEL_PK = 987654321


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", for reverse()
    kwargs: tuple[str, ...]  # the named groups of the whole pattern, e.g. ("pk",) or ("pk", "format")

    @property
    def id(self) -> str:
        return self.name + (".json" if "format" in self.kwargs else "")

    def url(self, pk: int) -> str:
        kwargs = {"pk": pk}
        if "format" in self.kwargs:
            kwargs["format"] = "json"
        return reverse(self.name, kwargs=kwargs)

    def url_with_raw_argument(self, raw: str) -> str:
        """The route's address with ``raw`` (URL-quoted) as its argument (the pk, a token, a reference),
        whether or not the pattern would accept it: how a scanner or a typo reaches the server."""
        placeholder: dict[str, object] = {
            name: SENTINEL_PK if name == "pk" else f"x{SENTINEL_PK}" for name in self.kwargs
        }
        if "format" in self.kwargs:
            placeholder["format"] = "json"
        try:
            address = reverse(self.name, kwargs=placeholder)
        except NoReverseMatch:  # an <int:...> argument that is not named pk (a checkpoint's size)
            placeholder = {name: "json" if name == "format" else SENTINEL_PK for name in self.kwargs}
            address = reverse(self.name, kwargs=placeholder)
        argument = next(str(value) for name, value in placeholder.items() if name != "format")
        return address.replace(argument, quote(raw, safe=""), 1)

    @property
    def owner(self) -> str:
        """Whose pk the route takes: the path segment just before the pk says it."""
        segments = self.url(SENTINEL_PK).split("/")
        index = next(i for i, segment in enumerate(segments) if segment.split(".")[0] == str(SENTINEL_PK))
        return {"warrants": "warrant", "documents": "document"}.get(segments[index - 1], segments[index - 1])


def walk_routes(patterns=None, namespace: str = "", groups: tuple[str, ...] = ()):
    """Every route of the URL resolver, with the named groups of its whole pattern."""
    yield from _walk(get_resolver().url_patterns if patterns is None else patterns, namespace, groups)


def _walk(patterns, namespace: str = "", groups: tuple[str, ...] = ()):
    for pattern in patterns:
        found = groups + tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner, found)
        elif isinstance(pattern, URLPattern):
            yield Route(f"{namespace}{pattern.name}" if pattern.name else "", found)


def routes_with_pk() -> list[Route]:
    unique = {route.id: route for route in walk_routes() if "pk" in route.kwargs}
    return sorted(unique.values(), key=lambda route: route.id)


def routes_without_arguments() -> list[Route]:
    """Routes whose address takes nothing: lists, forms, the API root and schema (their input is the
    query string and the body)."""
    unique = {route.id: route for route in walk_routes() if not route.kwargs and route.name}
    return sorted(unique.values(), key=lambda route: route.id)


def pk_for(route: Route, warrant: Warrant) -> int:
    owners = {
        "warrant": warrant.pk,
        "document": warrant.documents.get().pk,
        "exports": (
            Export.objects.filter(warrant=warrant).first()
            or Export.objects.create(warrant=warrant, requested_by=warrant.created_by)
        ).pk,
        "notifications": _notification_of(warrant).pk,
        "follow-ups": _follow_up_of(warrant).pk,
        "agencies": warrant.agency.pk,
        "investigators": (
            Investigator.objects.filter(agency=warrant.agency).first() or InvestigatorFactory(agency=warrant.agency)
        ).pk,
    }
    assert route.owner in owners, f"{route.id}: teach this test whose pk '{route.owner}' is"
    return owners[route.owner]


def _notification_of(warrant: Warrant) -> Notification:
    account, _created = Account.objects.get_or_create(uid="route-test", defaults={"display_name": "Route Test"})
    notification, _created = Notification.objects.get_or_create(
        warrant=warrant,
        account=account,
        defaults={"disclosed_at": warrant.received_at, "due_at": warrant.received_at, "message_id": "<route@test>"},
    )
    return notification


def _follow_up_of(warrant: Warrant) -> FollowUpRequest:
    """A follow-up request of the warrant with one pseudonym pending; no document (the warrant keeps only its own)."""
    follow_up, created = FollowUpRequest.objects.get_or_create(
        warrant=warrant,
        reference=f"{warrant.reference}-F1",
        defaults={"received_at": warrant.received_at, "deadline": warrant.deadline, "created_by": warrant.created_by},
    )
    if created:
        FollowUpToken.objects.create(
            request=follow_up, position=1, token="p1.00000000.aaaa", justification="Route test", validity="VALID"
        )
    return follow_up


# --- exports and notifications (the fixtures using them are in tests/disclosure/conftest.py) ----------

DELIVERED_AT = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_export(warrant, actor) -> Export:
    export = services.export_start(warrant=warrant, actor=actor)
    return services.export_run(export=export)


class Collector:
    """An aiosmtpd handler keeping every message the SMTP server accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"


def mailers_for(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }


def make_account(uid: str, name: str, *, email: str = "", phone: str = "", locale: str = "ko") -> Account:
    return AccountFactory(uid=uid, display_name=name, email=email, phone=phone, locale=locale)


def delivered_export(warrant: Warrant, actor, rows: list[tuple[Account, str, int]], *, kind=Export.Kind.CONVERSATIONS):
    """A ready export naming ``rows`` (account, role, messages), delivered to the agency at DELIVERED_AT."""
    export = Export.objects.create(
        warrant=warrant, kind=kind, requested_by=actor, status=Export.Status.READY, package_sha256="ab" * 32
    )
    Disclosure.objects.bulk_create(
        Disclosure(export=export, account=account, role=role, messages=count) for account, role, count in rows
    )
    services.export_record_delivery(
        export=export,
        actor=actor,
        channel=Delivery.Channel.IN_PERSON,
        recipient="Inspector Han",
        delivered_at=DELIVERED_AT,
    )
    return export


def send(**kwargs):
    return notifications.notifications_send_due(**kwargs)


def key_spellings(key: bytes) -> tuple[list[bytes], list[str]]:
    """Every way a key could sit in a database: raw bytes, and as text in hex (either case) or base64
    (standard or URL-safe, with or without padding)."""
    texts = {key.hex(), key.hex().upper()}
    for encoded in (base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode()):
        texts |= {encoded, encoded.rstrip("=")}
    return [key], sorted(texts)


def database_cells_holding(keys: list[bytes]) -> list[tuple[str, int]]:
    """(table, column index) of every cell of every table of the database that holds one of ``keys``
    in any spelling of ``key_spellings``: a full scan, whatever the column's type (SQLite, PostgreSQL)."""
    raw: list[bytes] = []
    texts: list[str] = []
    for key in keys:
        more_raw, more_texts = key_spellings(key)
        raw += more_raw
        texts += more_texts
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for index, value in enumerate(row):
                    if value is None:
                        continue
                    if isinstance(value, memoryview | bytes | bytearray):
                        data = bytes(value)
                        hit = any(k in data for k in raw) or any(t.encode() in data for t in texts)
                    else:
                        text = value if isinstance(value, str) else str(value)
                        hit = any(t in text for t in texts)
                    if hit:
                        found.append((table, index))
    return found


def arranged_follow_up(export: Export, officer) -> FollowUpRequest:
    """A decided follow-up of ``export``'s warrant with its first pseudonym approved (arranged, not
    decided: the decisions are tested elsewhere), ready for an identity sheet."""
    warrant = export.warrant
    with package_open(export) as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as archive:
        token = json.loads(archive.read("conversations.json"))["participants"]["pseudonymised"][0]["token"]
    follow_up = FollowUpRequest.objects.create(
        warrant=warrant,
        reference=f"{warrant.reference}-F1",
        received_at=warrant.received_at,
        deadline=warrant.deadline,
        created_by=officer,
        status=FollowUpRequest.Status.DECIDED,
    )
    FollowUpToken.objects.create(
        request=follow_up,
        position=1,
        token=token,
        justification="Arranged",
        validity=FollowUpToken.Validity.VALID,
        decision=FollowUpToken.Decision.APPROVED,
    )
    return follow_up
