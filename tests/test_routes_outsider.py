"""An outsider learns nothing about cases not assigned to them: every route with a pk answers 404.

The routes are collected from the URL resolver, so a route added later is covered without
anyone having to remember this test. The case (with everything a route can name), the personas and
their signed-in sessions are built once for the module (``shared_world``); each test starts from them.
"""

import re
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from guardian.models import UserObjectPermission

from disclosure.models import Delivery, DownloadLink, Export, Notification
from requests_app.models import (
    Document,
    FollowUpDecision,
    FollowUpRequest,
    Investigator,
    SignatureCheck,
    TrustAnchor,
    Warrant,
    WarrantEvent,
    WarrantTarget,
)
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
from tests.helpers import client_for, pk_for, routes_with_pk
from warrantdesk.models import AuditAction, AuditEntry

ROUTES = routes_with_pk()
PERSONA_NAMES = ["legal_officer", "reviewer", "outsider", "auditor", "admin_user"]


def _build_world() -> SimpleNamespace:
    world = SimpleNamespace(**{name: PERSONAS[name]() for name in PERSONA_NAMES}, agency=make_agency())
    world.warrant = make_warrant(world.legal_officer, world.reviewer, world.agency, make_pdf_upload())
    for route in ROUTES:  # the export, notice, follow-up and investigator the routes name
        pk_for(route, world.warrant)
    world.cookies = {name: session_cookies(client_for(getattr(world, name))) for name in PERSONA_NAMES}
    return world


world = shared_world(_build_world)


def signed_in(world, persona: str):
    """A client signed in as the persona, with the world's session."""
    return client_with_cookies(world.cookies[persona])


POST_PAYLOAD = {"to": "REJECTED", "note": "Not ours", "username": "charlie", "kind": "SUPPORTING"}


def state() -> dict:
    """Everything an outsider's request could change."""
    return {
        "warrants": list(Warrant.objects.values_list("pk", "status", "approved_by_id", "closed_at")),
        "documents": Document.objects.count(),
        "events": WarrantEvent.objects.count(),
        "targets": WarrantTarget.objects.count(),
        "object_permissions": UserObjectPermission.objects.count(),
        "registry": (TrustAnchor.objects.count(), list(Investigator.objects.values_list("pk", "is_chief", "active"))),
        "signature_checks": SignatureCheck.objects.count(),
        "exports": list(Export.objects.values_list("pk", "status")),
        "deliveries": Delivery.objects.count(),
        "links": DownloadLink.objects.count(),
        "follow_ups": list(FollowUpRequest.objects.values_list("pk", "status", "decided_at")),
        "follow_up_decisions": FollowUpDecision.objects.count(),
        "notifications": list(Notification.objects.values_list("pk", "status", "deferred_until", "sent_at")),
    }


# Case routes are for the officers assigned to the case; registry routes for administrators.
REGISTRY_OWNERS = {"agencies", "investigators"}


def test_the_route_list_covers_web_api_and_document_downloads():
    names = {route.id for route in ROUTES}

    assert {
        "requests_app:warrant-detail",
        "requests_app:warrant-transition",
        "requests_app:warrant-assign",
        "requests_app:document-upload",
        "requests_app:document-download",
        "warrant-detail",
        "warrant-documents",
        "warrant-transitions",
        "warrant-events",
        "warrant-officers",
        "document-download",
        "followups:create",
        "followups:detail",
        "followups:decide",
        "warrant-follow-ups",
        "follow-up-detail",
        "follow-up-decisions",
    } <= names
    assert all(route.name for route in ROUTES), "every route with a pk needs a name to be tested"
    assert {route.owner for route in ROUTES} == {
        "warrant",
        "document",
        "exports",
        "notifications",
        "follow-ups",
    } | REGISTRY_OWNERS


@pytest.mark.parametrize("route", ROUTES, ids=[route.id for route in ROUTES])
def test_an_outsider_gets_404_on_every_route_of_a_case_and_changes_nothing(route, world, warrant, outsider):
    url = route.url(pk_for(route, warrant))
    officer = signed_in(world, "admin_user" if route.owner in REGISTRY_OWNERS else "legal_officer")
    answers_to_officer = {"GET": officer.get(url).status_code, "POST": officer.post(url).status_code}
    intruder = signed_in(world, "outsider")
    before = state()
    denials_before = AuditEntry.objects.filter(action=AuditAction.ACCESS_DENIED).count()

    answers_to_outsider = {
        "GET": intruder.get(url).status_code,
        "POST": intruder.post(
            url, {**POST_PAYLOAD, "file": SimpleUploadedFile("x.pdf", pdf_bytes("Intruder"), "application/pdf")}
        ).status_code,
    }

    # The route is real: the assigned officer reaches the case (405 only for a method the route lacks).
    # (409: the route is reached but the case is not in a state for it, e.g. a package not ready yet.)
    assert all(code in {200, 202, 302, 400, 405, 409} for code in answers_to_officer.values()), answers_to_officer
    assert set(answers_to_officer.values()) != {405}
    # The outsider gets 404 wherever the officer is let in; 405 only where everyone gets it, whatever the pk.
    expected = {method: 405 if code == 405 else 404 for method, code in answers_to_officer.items()}
    assert answers_to_outsider == expected
    assert state() == before
    denials = AuditEntry.objects.filter(action=AuditAction.ACCESS_DENIED).order_by("seq")[denials_before:]
    assert [(entry.actor, entry.details["path"]) for entry in denials] == [
        (outsider, url) for code in answers_to_outsider.values() if code == 404
    ]


def test_an_outsider_sees_no_warrant_in_the_web_list(warrant, outsider):
    response = client_for(outsider).get(reverse("requests_app:warrant-list"))

    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert warrant.reference not in response.content.decode()


def test_an_outsider_sees_no_warrant_in_the_api_list(warrant, outsider):
    response = client_for(outsider).get("/api/v1/warrants/")

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_the_assigned_officer_does_see_the_warrant_in_both_lists(warrant, reviewer):
    client = client_for(reviewer)

    web = client.get(reverse("requests_app:warrant-list"))
    api = client.get("/api/v1/warrants/")

    assert [item.pk for item in web.context["page"].object_list] == [warrant.pk]
    assert [item["reference"] for item in api.json()["results"]] == [warrant.reference]


def test_a_warrant_pk_that_does_not_exist_answers_like_one_the_user_may_not_see(warrant, outsider):
    client = client_for(outsider)

    hidden_url = reverse("requests_app:warrant-detail", args=[warrant.pk])
    missing_url = reverse("requests_app:warrant-detail", args=[warrant.pk + 1000])

    hidden = client.get(hidden_url)
    missing = client.get(missing_url)

    assert hidden.status_code == missing.status_code == 404
    # The pages differ only by their own address (the language switcher links back to it) and CSRF tokens.
    assert page_without(hidden, hidden_url) == page_without(missing, missing_url)


def page_without(response, url: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", response.content.decode().replace(url, ""))


# --- anonymous visitors --------------------------------------------------------------------------

WEB_ROUTES = [route for route in ROUTES if ":" in route.name]
API_ROUTES = [route for route in ROUTES if ":" not in route.name]


@pytest.mark.parametrize("route", WEB_ROUTES, ids=[route.id for route in WEB_ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_anonymous_visitor_is_sent_to_the_login_page(route, method, client, warrant):
    url = route.url(pk_for(route, warrant))

    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("route", API_ROUTES, ids=[route.id for route in API_ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_anonymous_api_client_is_refused(route, method, client, warrant):
    url = route.url(pk_for(route, warrant))

    response = getattr(client, method)(url)

    assert response.status_code in {401, 403}
    assert "reference" not in response.content.decode()


@pytest.mark.parametrize("url", ["/warrants/", "/warrants/new/", "/audit/", "/audit/export.csv"])
def test_anonymous_visitors_are_sent_to_the_login_page_from_pages_without_pk(url, client):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("url", ["/api/v1/warrants/", "/api/v1/audit/", "/api/v1/agencies/"])
def test_anonymous_api_clients_are_refused_on_lists(url, client):
    response = client.get(url)

    assert response.status_code in {401, 403}


# --- the audit log is for auditors only ----------------------------------------------------------

AUDIT_PAGES = [("get", "/audit/"), ("get", "/audit/export.csv"), ("get", "/api/v1/audit/"), ("post", "/audit/verify/")]


@pytest.mark.parametrize(("method", "url"), AUDIT_PAGES, ids=[url for _method, url in AUDIT_PAGES])
@pytest.mark.parametrize("persona", ["legal_officer", "reviewer", "outsider"])
def test_the_audit_log_is_404_for_anyone_but_auditors(method, url, persona, request, world):
    user = request.getfixturevalue(persona)
    exports_before = AuditEntry.objects.filter(action=AuditAction.AUDIT_EXPORTED).count()

    response = getattr(signed_in(world, persona), method)(url)

    assert response.status_code == 404
    denial = AuditEntry.objects.filter(action=AuditAction.ACCESS_DENIED).latest("seq")
    assert (denial.actor, denial.details["path"]) == (user, url)
    assert AuditEntry.objects.filter(action=AuditAction.AUDIT_EXPORTED).count() == exports_before


@pytest.mark.parametrize(("method", "url"), AUDIT_PAGES, ids=[url for _method, url in AUDIT_PAGES])
@pytest.mark.parametrize("persona", ["auditor", "admin_user"])
def test_auditors_and_administrators_can_open_the_audit_log(method, url, persona, world, db):
    response = getattr(signed_in(world, persona), method)(url)

    assert response.status_code == 200


# --- the few public routes -----------------------------------------------------------------------

# Open without an account, each for a reason: signing in, choosing the language, the agency's one-time
# download link, and the operator's public key (with the checker) that agencies pin to check a package.
PUBLIC_ROUTES = {
    "login",
    "set_language",
    "link-download",
    "operator-key",
    "operator-key-pem",
    "verify-script",
    "operator-key-api",
    # The audit key and its checker, published like the operator key so that an outside auditor pins it.
    "audit-key",
    "audit-key-pem",
    "audit-verify-script",
    # Published transparency reports: the operator's public statement, signed (issue 13, point 4).
    "transparency",
    "transparency-report",
    "transparency-report-json",
    "transparency-report-sig",
    "transparency-report-csv",
    "transparency-report-pdf",
    # The HI-1 endpoint has no session login: each message is authenticated by the agency's API client
    # token, and a missing or wrong one is answered with an HI-1 error (tests/hi1).
    "hi1-endpoint",
}


def _views(patterns, namespace: str = ""):
    from django.urls import URLPattern, URLResolver

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "admin":  # Django's admin has its own sign-in
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from _views(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}", pattern.callback


def _open_to_anyone(callback) -> bool:
    """What LoginRequiredMiddleware lets through, and for API views what their permissions let through."""
    from rest_framework.permissions import AllowAny

    if hasattr(callback, "cls"):  # a DRF view: LoginRequiredMiddleware leaves it to its permission classes
        classes = callback.initkwargs.get("permission_classes", callback.cls.permission_classes)
        return not classes or any(issubclass(permission, AllowAny) for permission in classes)
    return not getattr(callback, "login_required", True)


def test_only_the_listed_routes_are_open_without_an_account():
    from django.urls import get_resolver

    open_routes = {name for name, callback in _views(get_resolver().url_patterns) if _open_to_anyone(callback)}

    assert open_routes == PUBLIC_ROUTES


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("/operator-key/", "text/html"),
        ("/operator-key/operator-public-key.pem", "application/x-pem-file"),
        ("/operator-key/verify_package.py", "text/x-python"),
        ("/api/v1/operator-key/", "application/json"),
        ("/audit/key/", "text/html"),
        ("/audit/key/audit-public-key.pem", "application/x-pem-file"),
        ("/audit/key/verify_checkpoint.py", "text/x-python"),
    ],
)
def test_an_anonymous_visitor_gets_the_operator_key_and_the_checker(url, content_type, client):
    response = client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert client.post(url).status_code in {403, 405}  # read-only (403: CSRF refuses an anonymous POST first)
