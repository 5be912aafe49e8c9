"""Bad input gets a 4xx (or the page with its form's errors), never a 500.

Every route of the URL resolver is walked, logged in as each role: routes without arguments (lists,
forms, the API root) with every query parameter any filter form knows and a few every scanner tries;
routes with an id with malformed ids, and with a real id plus malformed query parameters and body
fields (form-encoded, and JSON on the API). A route or a filter added later is walked without anyone
remembering this module: routes come from the resolver, parameters from the filter forms, body
fields from every form and serializer of the apps.

A list route declares the form that parses its query string (``filtered_by`` / ``filter_form``);
wherever that form refuses a value, the route must refuse it too (400, or the page showing the error
and no result), not ignore it and show more than was asked for.

The case, the personas and their signed-in sessions are built once for the module (``shared_world``):
each test starts from them as built. A malformed id that no route pattern accepts reaches no view (the
URL resolver answers 404 before any view or role check): on each route it is sent once per method, as
one role in turn, so that each role meets it on other routes; an id a pattern accepts reaches the view
and is sent as every role.
"""

import json
import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import pytest
from django import forms
from django.conf import settings
from django.urls import Resolver404, get_resolver, resolve, reverse
from rest_framework import serializers

from requests_app.models import FollowUpRequest, FollowUpToken
from tests.conftest import (
    PERSONAS,
    client_with_cookies,
    make_agency,
    make_pdf_upload,
    make_warrant,
    session_cookies,
    shared_world,
)
from tests.helpers import (
    Route,
    api_create_fields,
    client_for,
    pk_for,
    record_valid_signature,
    routes_with_pk,
    routes_without_arguments,
    walk_routes,
)
from warrantdesk.models import AuditAction, AuditEntry
from warrantdesk.params import FilterForm

ROLES = ["legal_officer", "reviewer", "outsider", "auditor", "admin_user"]
APPS = {"warrantdesk", "requests_app", "disclosure", "demo", "oversight"}

MALFORMED = {
    "impossible-day": "2026-02-30",
    "impossible-month": "2026-13-45",
    "not-a-number": "abc",
    "zero": "0",
    "negative": "-1",
    "fraction": "1.5",
    "huge": "99999999999999999999999",
    "beyond-64-bits": str(2**63),
    "thousands-of-digits": "9" * 5000,
    "unknown-enum": "NO_SUCH_VALUE",
    "superscript-digit": "²",
    "very-long": "x" * 10_000,
    "nul-byte": "a\x00b",
    "json-like": '{"$gt": ""}',
}
# On a real case every parameter and field is sent at once, in as many requests as there are values:
# one value of each kind of mistake keeps the walk of ~60 routes short.
MALFORMED_ON_A_CASE = {
    label: MALFORMED[label]
    for label in (
        "impossible-day",
        "not-a-number",
        "negative",
        "huge",
        "thousands-of-digits",
        "unknown-enum",
        "very-long",
        "nul-byte",
    )
}
BAD_IDS = {
    "not-a-number": "abc",
    "zero": "0",
    "negative": "-1",
    "huge": "99999999999999999999999",
    "beyond-64-bits": str(2**63),
    "thousands-of-digits": "9" * 5000,
    "superscript-digit": "²",
    "fraction": "1.5",
    "nul-byte": "1\x00",
    "traversal": "..%2F..",
}
# Parameters no form of ours declares, which scanners and other frameworks' clients send anyway.
GENERIC_PARAMETERS = ["page", "page_size", "format", "ordering", "search", "limit", "offset", "cursor", "id", "was"]


def _subclasses(cls) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _ours(cls) -> bool:
    return cls.__module__.split(".")[0] in APPS


get_resolver().url_patterns  # imports every view, and so every form, before they are collected
FILTER_FORMS = [form for form in _subclasses(FilterForm) if _ours(form)]
READ_DIRECTLY = re.compile(
    r"""(?:request\.GET|query_params)(?:\.get\(|\[)\s*["']([^"']+)["']|["']([^"']+)["']\s+in\s+request\.GET"""
)


def _read_directly() -> set[str]:
    """Parameters some view reads without a form (``request.GET.get("was")``): walked all the same."""
    names = set()
    for app in APPS:
        for source in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            for match in READ_DIRECTLY.finditer(source.read_text()):
                names.add(match.group(1) or match.group(2))
    return names


QUERY_PARAMETERS = sorted(
    {name for form in FILTER_FORMS for name in form.base_fields} | set(GENERIC_PARAMETERS) | _read_directly()
)


def _body_fields() -> list[str]:
    names = set()
    for form in _subclasses(forms.BaseForm):
        if _ours(form):
            names |= set(form.base_fields)
    for serializer in _subclasses(serializers.BaseSerializer):
        if _ours(serializer):
            names |= set(getattr(serializer, "_declared_fields", {}))
            declared = getattr(getattr(serializer, "Meta", None), "fields", None)
            names |= set(declared) if isinstance(declared, list | tuple) else set()
    return sorted(names | {"confirm", "retry", "decision-1", "reason-1"})


BODY_FIELDS = _body_fields()


def _walked(routes: list[Route]) -> list[Route]:
    # Django's admin is Django's: only its change lists (which filter by query string) are walked.
    return [r for r in routes if not r.name.startswith("admin:") or r.name.endswith("_changelist")]


LIST_ROUTES = _walked(routes_without_arguments())
ID_ROUTES = routes_with_pk()
# Routes taking another argument (a download token, a warrant reference): malformed values, like ids.
ARGUMENT_ROUTES = sorted(
    {
        route.id: route
        for route in walk_routes()
        if route.kwargs and route.name and not route.name.startswith("admin:")
    }.values(),
    key=lambda route: route.id,
)


def _build_world() -> SimpleNamespace:
    """The personas, the case with everything a route can name (export, notice, follow-up, investigator)
    and a signed-in session for each persona."""
    world = SimpleNamespace(**{role: PERSONAS[role]() for role in ROLES}, agency=make_agency())
    world.warrant = make_warrant(world.legal_officer, world.reviewer, world.agency, make_pdf_upload())
    for route in ID_ROUTES:
        pk_for(route, world.warrant)
    world.cookies = {role: session_cookies(client_for(getattr(world, role))) for role in ROLES}
    return world


world = shared_world(_build_world)


@pytest.fixture(autouse=True)
def _demo_mode_on(settings):
    """The demo routes (sample documents) read parameters too: walk them switched on."""
    settings.WARRANTDESK_DEMO = True


def _filter_form(url: str) -> type[FilterForm] | None:
    view = resolve(url).func
    if form := getattr(view, "filter_form", None):
        return form
    viewset = getattr(view, "cls", None)
    if viewset is not None and getattr(view, "actions", {}).get("get") == "list":
        return getattr(viewset, "filter_form", None)
    return None


def _refused_by_form(form_class: type[FilterForm], name: str, value: str) -> bool:
    return name in form_class({name: value}).errors


def _refused(response) -> bool:
    """A 4xx, or a page rendered with its filter form's errors."""
    if 400 <= response.status_code < 500:
        return True
    context = getattr(response, "context", None)
    form = context.get("filter_form") if context else None
    return form is not None and bool(form.errors)


def _clients(world, route: Route, roles: list[str] = ROLES) -> list:
    """(role, client signed in as that persona) for each role the route is walked as."""
    clients = []
    for role in ["admin_user"] if route.name.startswith("admin:") else roles:
        client = client_with_cookies(world.cookies[role])
        client.raise_request_exception = False
        clients.append((role, client))
    return clients


def _reached_a_view(response) -> bool:
    """Whether the URL resolver matches the address the handler resolved: else no view was called."""
    try:
        resolve(response.wsgi_request.path_info)
    except Resolver404:
        return False
    return True


def _first_role(route: Route, label: str, method: str) -> int:
    """Which role sends a malformed id first on a route: each in turn, so that a malformed id no pattern
    accepts (sent once) meets every role across the routes."""
    return (ARGUMENT_ROUTES.index(route) + list(BAD_IDS).index(label) + ("get", "post").index(method)) % len(ROLES)


def _url(route: Route) -> str:
    return reverse(route.name)


def test_the_walk_covers_every_list_page_and_api_list_and_their_filters():
    names = {route.name for route in LIST_ROUTES}
    declared = {route.name: _filter_form(_url(route)) for route in LIST_ROUTES}

    assert {"requests_app:warrant-list", "audit-log", "audit-export", "disclosure:notification-list"} <= names
    assert {"warrant-list", "audit-list", "agency-list", "investigator-list", "api-root", "api-schema"} <= names
    assert {name for name, form in declared.items() if form} >= {
        "requests_app:warrant-list",
        "audit-log",
        "audit-export",
        "disclosure:notification-list",
        "warrant-list",
        "audit-list",
    }
    assert {"q", "status", "agency", "deadline_before", "order", "overdue", "since", "until", "actor", "action"} <= set(
        QUERY_PARAMETERS
    )
    assert {"targets", "received_at", "until", "hours", "delivered_at", "to", "note"} <= set(BODY_FIELDS)
    assert {"was", "sample", "number", "warrant"} <= _read_directly()


@pytest.mark.parametrize("route", LIST_ROUTES, ids=[route.id for route in LIST_ROUTES])
def test_a_list_route_refuses_each_malformed_parameter_and_never_fails(route, world, db):
    url = _url(route)
    form_class = _filter_form(url)
    failures = []

    for role, client in _clients(world, route):
        for label, value in MALFORMED.items():
            # Every parameter at once: whatever reads any of them must not fail.
            everything = client.get(url, {name: value for name in QUERY_PARAMETERS})
            if everything.status_code >= 500:
                failures.append((role, "all parameters", label, everything.status_code))
            if role != "admin_user" or form_class is None:
                continue  # one parameter at a time as the administrator, who reaches every list
            for name in form_class.base_fields:
                response = client.get(url, {name: value})
                if response.status_code >= 500:
                    failures.append((role, name, label, response.status_code))
                elif _refused_by_form(form_class, name, value) and not _refused(response):
                    failures.append((role, name, label, f"accepted with {response.status_code}"))

    assert failures == []


@pytest.mark.parametrize("route", ARGUMENT_ROUTES, ids=[route.id for route in ARGUMENT_ROUTES])
def test_a_malformed_id_or_argument_answers_404_on_every_route_that_takes_one(route, world, db):
    clients = _clients(world, route)
    failures = []

    for label, raw in BAD_IDS.items():
        url = route.url_with_raw_argument(raw)
        for method in ("get", "post"):
            first = _first_role(route, label, method) % len(clients)
            for index, (role, client) in enumerate(clients[first:] + clients[:first]):
                response = getattr(client, method)(url)
                if response.status_code not in {404, 405}:
                    failures.append((role, method, label, response.status_code))
                if index == 0 and not _reached_a_view(response):
                    break  # no view behind this address: the other roles would meet the resolver's 404 too

    assert failures == []


def test_each_role_meets_each_malformed_id_that_reaches_no_view():
    """The turns of ``_first_role``: an id no pattern accepts is sent as one role per route and method,
    and each role sends each such id on some route."""
    met, unmatched = set(), set()

    for route in ARGUMENT_ROUTES:
        for label, raw in BAD_IDS.items():
            try:
                resolve(unquote(urlsplit(route.url_with_raw_argument(raw)).path))
            except Resolver404:
                unmatched.add(label)
                met |= {(ROLES[_first_role(route, label, method)], label) for method in ("get", "post")}

    assert {"not-a-number", "negative", "superscript-digit", "fraction", "traversal"} <= unmatched
    assert met == {(role, label) for role in ROLES for label in unmatched}


@pytest.mark.parametrize("route", ID_ROUTES, ids=[route.id for route in ID_ROUTES])
def test_malformed_parameters_and_fields_on_a_real_case_never_fail(route, world, warrant):
    url = route.url(pk_for(route, warrant))
    api = ":" not in route.name
    failures = []

    # Outsiders and auditors get the 404 before any parsing (test_routes_outsider walks that).
    for role, client in _clients(world, route, roles=["legal_officer", "reviewer", "admin_user"]):
        for label, value in MALFORMED_ON_A_CASE.items():
            answers = {
                "query": client.get(url, {name: value for name in QUERY_PARAMETERS}),
                "form": client.post(url, {name: value for name in BODY_FIELDS}),
            }
            if api:
                body = {name: value for name in BODY_FIELDS}
                answers["json"] = client.post(url, json.dumps(body), content_type="application/json")
                answers["json-nested"] = client.post(
                    url,
                    json.dumps({name: [{"kind": value}, {name: value}] for name in BODY_FIELDS}),
                    content_type="application/json",
                )
            failures += [(role, how, label, r.status_code) for how, r in answers.items() if r.status_code >= 500]

    assert failures == []


def test_every_route_with_arguments_takes_one():
    """The walks substitute one argument (and a format suffix); a route with two would need teaching them."""
    assert [route.id for route in ARGUMENT_ROUTES if len(set(route.kwargs) - {"format"}) != 1] == []
    assert {"link-download", "requests_app:warrant-detail", "document-download"} <= {r.name for r in ARGUMENT_ROUTES}


# --- the cases of the issue, one by one --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/audit/?since=2026-13-45", "since"),
        ("/audit/?until=2026-02-30", "until"),
        ("/warrants/?deadline_before=2026-02-30", "deadline_before"),
        ("/warrants/?agency=99999999999999999999999", "agency"),
        ("/warrants/?status=NOPE", "status"),
        ("/warrants/?page=abc", "page"),
        ("/disclosure/notifications/?status=NOPE", "status"),
    ],
)
def test_a_list_page_shows_the_bad_filter_and_no_result(url, field, admin_user, warrant):
    response = client_for(admin_user).get(url)

    assert response.status_code == 400
    assert field in response.context["filter_form"].errors
    assert list(response.context["page"].object_list) == []
    page = response.content.decode().replace('placeholder="WD-2026-000001"', "")
    assert "Please correct the problems below." in page
    assert f'href="#{response.context["filter_form"][field].id_for_label}"' in page
    assert warrant.reference not in page


def test_a_bad_audit_csv_filter_exports_nothing_and_shows_the_log_page_with_the_error(auditor):
    response = client_for(auditor).get("/audit/export.csv?since=2026-02-30")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "since" in response.context["filter_form"].errors
    assert not AuditEntry.objects.filter(action=AuditAction.AUDIT_EXPORTED).exists()


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/warrants/?agency=99999999999999999999999", "agency"),
        ("/api/v1/warrants/?status=NOPE", "status"),
        ("/api/v1/warrants/?overdue=maybe", "overdue"),
        ("/api/v1/audit/?since=2026-02-30", "since"),
        ("/api/v1/audit/?action=no.such", "action"),
        ("/api/v1/audit/?actor=a%00b", "actor"),
    ],
)
def test_an_api_list_answers_400_naming_the_bad_parameter(url, field, admin_user):
    response = client_for(admin_user).get(url)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_api_filters_are_documented_in_the_schema(admin_user):
    schema = client_for(admin_user).get("/api/v1/schema/?format=json").json()

    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/warrants/"]["get"]["parameters"]}
    assert parameters["deadline_before"]["schema"] == {"type": "string", "format": "date"}
    assert "NOPE" not in parameters["status"]["schema"]["enum"]
    assert "RECEIVED" in parameters["status"]["schema"]["enum"]
    audit = {p["name"] for p in schema["paths"]["/api/v1/audit/"]["get"]["parameters"]}
    assert {"actor", "action", "warrant", "since", "until", "page"} <= audit


def test_a_document_id_that_is_not_a_number_is_404_in_json(legal_officer, warrant):
    response = client_for(legal_officer).get("/api/v1/documents/abc/download/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_target_without_kind_is_refused_naming_the_field(legal_officer, agency):
    body = api_create_fields(agency, targets=[{"identifier": "user-42"}])

    response = client_for(legal_officer).post("/api/v1/warrants/", body, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) == ["targets"]
    assert "kind" in json.dumps(response.json()["targets"])


def test_a_refusal_reason_with_a_nul_byte_is_refused_and_nothing_is_decided(reviewer, warrant):
    route = next(route for route in ID_ROUTES if route.name == "followups:decide")
    follow_up_pk = pk_for(route, warrant)
    FollowUpRequest.objects.filter(pk=follow_up_pk).update(
        status=FollowUpRequest.Status.IN_REVIEW, document=record_valid_signature(warrant).document
    )
    token = FollowUpToken.objects.get(request_id=follow_up_pk)

    response = client_for(reviewer).post(
        route.url(follow_up_pk), {f"decision-{token.pk}": "refuse", f"reason-{token.pk}": "Not needed\x00"}
    )

    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    token.refresh_from_db()
    assert token.decision == FollowUpToken.Decision.PENDING


@pytest.mark.parametrize(
    "url, status",
    [
        ("/audit/cases/WD-1%00/", 404),  # a path cannot name a page with a NUL in it
        ("/api/v1/warrants/1%00/", 404),
        ("/warrants/?q=a%00b", 400),  # PostgreSQL refuses NUL even as a lookup parameter
        ("/api/v1/warrants/?agency=1%00", 400),
    ],
)
def test_a_nul_character_in_the_url_is_refused_before_any_view_runs(url, status, admin_user):
    response = client_for(admin_user).get(url)

    assert response.status_code == status
    assert not any("\x00" in json.dumps(entry.details) for entry in AuditEntry.objects.all())
