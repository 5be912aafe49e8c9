"""An auditor reads the process and changes nothing, and never takes a file of a case home.

One parametrised test walks every route of the URL resolver (a route added later is covered without
anyone remembering this module), signed in as an auditor, on a case whose objects all exist (a ready
export with its package on disk, a one-time link, a follow-up request, a notice, a signed checkpoint):

- every write (POST, PUT, PATCH, DELETE) is refused with 403, 404 or 405 and changes nothing: every
  table holds exactly what it held (rows compared, not only counted), and the audit log grew only by
  the refusals it records;
- a GET hands the auditor no file (no attachment, no PDF, ZIP or binary body), except the auditor's own
  files listed below; the routes that serve a case's files are named, and each must be in the walk.

The auditor's own actions are the few exceptions to the write rule: signing in and out, choosing the
language, and verifying the audit chain (which records an ``audit.verified`` entry and nothing else).

The case, the personas and the auditor's signed-in sessions are built once for the module
(``shared_world``); each test starts from them as built.
"""

import io
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from disclosure import services as disclosure_services
from disclosure.models import Export
from tests.conftest import (
    PERSONAS,
    client_with_cookies,
    make_agency,
    make_pdf_upload,
    make_warrant,
    session_cookies,
    shared_world,
)
from tests.factories import pdf_bytes
from tests.helpers import Route, client_for, pk_for, verify_signature, walk_routes
from warrantdesk import checkpoints, keystore, sealed
from warrantdesk.models import AuditAction, AuditChainHead, AuditEntry, MerkleNode

# Routes the walk must meet: each serves a case's file (documents, packages, identity sheets and their
# links, notice letters, the manifest as a file). A renamed route fails here instead of leaving the walk.
DOWNLOAD_ROUTES = {
    "requests_app:document-download",
    "document-download",
    "disclosure:export-download",
    "export-download",
    "disclosure:export-manifest",
    "disclosure:export-link",
    "export-links",
    "followups:sheet",
    "followups:sheet-link",
    "followups:sheet-deliver",
    "link-download",
    "disclosure:notification-letter",
    # The notice as its person gets it (e-mail, letter), shown in the preview's frame: a page, but a case's.
    "disclosure:notification-email-html",
    "disclosure:notification-letter-html",
    "hi1:warrant-export",  # the warrant as an HI-1 message: its targets and its documents' bodies
    "hi1-endpoint",  # GET: the agency's next HI-1 delivery (a one-time link to a package)
}
# Files an auditor may take: the filtered audit log, the signed checkpoints and the keys and checkers
# published for outsiders (and, in demo mode, the sample documents every visitor of the demo gets).
AUDITOR_FILES = {
    "audit-export",
    "audit-export-json",
    "audit-checkpoint-note",
    "audit-key-pem",
    "audit-verify-script",
    "audit-report-csv",  # the transparency report: figures of the whole process, no case content
    "audit-report-pdf",
    "operator-key-pem",
    "verify-script",
    "api-schema",
    "demo:sample-warrant",
    "demo:sample-request",
}
# The auditor's own actions: they write the session or the auditor's own audit entry, nothing of a case.
AUDITOR_OWN_ACTIONS = {
    "login": {AuditAction.LOGIN_FAILED},
    "logout": {AuditAction.LOGOUT},
    "set_language": set(),
    "audit-verify": {AuditAction.AUDIT_VERIFIED},
    # Second-factor pages of an account already past them: a redirect, nothing written.
    "two-factor-verify": set(),
    "two-factor-setup": set(),
    "two-factor-codes": set(),
}
# Reads that record themselves: downloading the log is an audited act.
AUDITOR_RECORDED_READS = {
    "audit-export": {AuditAction.AUDIT_EXPORTED},
    "audit-export-json": {AuditAction.AUDIT_EXPORTED},
}
# What a refusal itself records.
REFUSALS = {AuditAction.ACCESS_DENIED, AuditAction.LINK_REFUSED, AuditAction.DOCUMENT_REFUSED}
FILE_TYPES = ("application/pdf", "application/zip", "application/octet-stream", "text/csv")
WRITE_METHODS = ["post", "put", "patch", "delete"]
PAYLOAD = {
    "to": "REJECTED",
    "note": "Auditor",
    "username": "audrey",
    "kind": "SUPPORTING",
    "confirm": "",
    "recipient": "Inspector Audit",
    "channel": "IN_PERSON",
    "until": "2030-01-01",
    "justification": "Auditor",
    "reason": "Auditor",
}


def _routes() -> list[Route]:
    unique = {route.id: route for route in walk_routes() if route.name and not route.name.startswith("admin:")}
    return sorted(unique.values(), key=lambda route: route.id)


ROUTES = _routes()
SKIPPED_TABLES = {model._meta.db_table for model in (Session, AuditEntry, AuditChainHead, MerkleNode)} | {
    settings.CACHES["throttle"]["LOCATION"]  # the rate limits' counters (a refused call counts too)
}


def database_state() -> dict[str, list]:
    """Every row of every table but the sessions, the rate limits' counters, the audit log, its head and its
    tree (checked apart)."""
    state = {}
    with connection.cursor() as cursor:
        for table in sorted(set(connection.introspection.table_names(cursor)) - SKIPPED_TABLES):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            state[table] = sorted(map(repr, cursor.fetchall()))
    return state


def media_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(str(path) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def _build_world() -> SimpleNamespace:
    """A case with everything a route can name: an approved warrant, a ready export whose package is
    on disk, a one-time link to it, a follow-up request, a notice, and a signed audit checkpoint; and a
    signed-in session of the auditor for each method a test sends (a logout ends the last one)."""
    from requests_app import services

    world = SimpleNamespace(
        **{name: PERSONAS[name]() for name in ["legal_officer", "second_officer", "reviewer", "auditor"]},
        agency=make_agency(),
    )
    legal_officer = world.legal_officer
    warrant = world.warrant = make_warrant(legal_officer, world.reviewer, world.agency, make_pdf_upload())
    verify_signature(warrant, actor=legal_officer)
    services.warrant_approve(warrant=warrant, actor=world.reviewer)
    package = b"PK\x05\x06" + b"\x00" * 18  # an empty ZIP, sealed at rest as the export service seals it
    name, stored = sealed.store(
        default_storage,
        f"exports/{warrant.reference}/package.zip",
        io.BytesIO(package),
        key_name=keystore.warrant_files_key(warrant.reference),
    )
    world.export = Export.objects.create(
        warrant=warrant,
        requested_by=legal_officer,
        status=Export.Status.READY,
        package=name,
        package_sha256=stored.sha256,
        package_size=stored.size,
        manifest='{"counts": {"messages": 1}}',
    )
    _link, world.token = disclosure_services.export_issue_link(
        export=world.export, actor=legal_officer, recipient="Inspector"
    )
    checkpoint = checkpoints.checkpoint_create(created_by="test")
    world.size = checkpoint.tree_size if checkpoint else 1
    for route in ROUTES:  # the notice, follow-up and investigator the routes name
        if "pk" in route.kwargs:
            pk_for(route, warrant)
    world.auditor_sessions = {method: session_cookies(client_for(world.auditor)) for method in [*WRITE_METHODS, "get"]}
    return world


world = shared_world(_build_world)


@pytest.fixture
def case(world, warrant):
    return {
        "warrant": warrant,
        "export": Export.objects.get(pk=world.export.pk),
        "token": world.token,
        "size": world.size,
    }


def url_for(route: Route, case) -> str:
    arguments = set(route.kwargs) - {"format"}
    if not arguments:
        return reverse(route.name)
    (name,) = arguments
    if name == "pk":
        return route.url(pk_for(route, case["warrant"]))
    value = {"reference": case["warrant"].reference, "token": case["token"], "size": case["size"]}.get(name)
    assert value is not None, f"{route.id}: teach this test what to put in <{name}>"
    kwargs = {name: value, **({"format": "json"} if "format" in route.kwargs else {})}
    return reverse(route.name, kwargs=kwargs)


def is_file(response) -> bool:
    disposition = response.get("Content-Disposition", "")
    content_type = response.get("Content-Type", "")
    return "attachment" in disposition or content_type.startswith(FILE_TYPES) or response.streaming


def test_the_walk_meets_every_download_and_every_exception():
    names = {route.name for route in ROUTES}

    assert names >= DOWNLOAD_ROUTES
    assert set(AUDITOR_OWN_ACTIONS) <= names
    assert {"audit-export", "audit-export-json", "audit-dashboard", "audit-case"} <= names


def test_the_case_package_is_there_to_take_for_whoever_is_let_through(case, client, legal_officer):
    """The walk is only as strong as its case: the package behind the link and the download is real."""
    officer = client_for(legal_officer).get(reverse("disclosure:export-download", args=[case["export"].pk]))
    agency = client.get(reverse("link-download", args=[case["token"]]))

    assert (officer.status_code, agency.status_code) == (200, 200)
    assert agency["Content-Type"] == "application/zip"


def test_an_auditor_is_not_staff_and_so_never_reaches_the_django_admin(auditor):
    response = client_for(auditor).post("/admin/requests_app/warrant/add/", {})

    assert not auditor.is_staff
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("route", ROUTES, ids=[route.id for route in ROUTES])
def test_an_auditor_writes_nothing_and_downloads_no_file_of_a_case(route, case, world, settings):
    url = url_for(route, case)
    # A session of its own for each request (a logout ends the last one), signed in before the snapshot.
    clients = {method: client_with_cookies(cookies) for method, cookies in world.auditor_sessions.items()}
    before, files_before = database_state(), media_files(settings)
    head_before = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    answers = {}

    for method in WRITE_METHODS:
        client = clients[method]
        body = {**PAYLOAD, "file": SimpleUploadedFile("x.pdf", pdf_bytes("Auditor"), "application/pdf")}
        if method == "post":
            answers[method] = client.post(url, body).status_code
        else:
            answers[method] = getattr(client, method)(url, "{}", content_type="application/json").status_code
    read = clients["get"].get(url)

    if route.name not in AUDITOR_OWN_ACTIONS:
        assert set(answers.values()) <= {403, 404, 405}, answers
    if route.name in DOWNLOAD_ROUTES:
        assert read.status_code in {403, 404, 405}, read.status_code
    if route.name not in AUDITOR_FILES:
        assert not is_file(read), (read.status_code, read.get("Content-Type"), read.get("Content-Disposition"))
    assert database_state() == before
    assert media_files(settings) == files_before
    written = set(AuditEntry.objects.filter(seq__gt=head_before).values_list("action", flat=True))
    allowed = REFUSALS | AUDITOR_OWN_ACTIONS.get(route.name, set()) | AUDITOR_RECORDED_READS.get(route.name, set())
    assert written <= allowed, written
    head = AuditChainHead.objects.get()
    assert head.seq == AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
