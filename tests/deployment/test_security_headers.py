"""The Content-Security-Policy and the security headers on the app's pages (README "Deployment").

Every HTML page a signed-in officer or auditor opens carries a CSP with a fresh nonce, and every inline
<script> on it carries that nonce (no other inline script runs), with no inline event handler and no
style attribute or <style> element without it (htmx's own indicator <style> is switched off).

The one exception is named: the notices the notification preview shows in its sandboxed frames are
whole documents with a policy of their own, their inline styles and nothing else (no script at all).
"""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import NoReverseMatch, resolve, reverse

from tests.helpers import client_for, pk_for, routes_with_pk, routes_without_arguments


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def csp_problems(response) -> list[str]:
    policy = response.headers.get("Content-Security-Policy", "")
    problems = [] if policy else ["no Content-Security-Policy header"]
    nonce = re.search(r"'nonce-([^']+)'", policy)  # present only when the page used it
    if "'unsafe-inline'" in policy or "'unsafe-eval'" in policy:
        problems.append(f"unsafe source in {policy!r}")
    parser = _Tags()
    parser.feed(response.content.decode())
    for tag, attrs in parser.tags:
        handlers = sorted(name for name in attrs if name.startswith("on"))
        if handlers:
            problems.append(f"<{tag}> has inline handlers {handlers}")
        if "style" in attrs:
            problems.append(f"<{tag}> has a style attribute")
        data_block = attrs.get("type", "").endswith("json")  # a data block, never executed
        inline = tag in {"script", "style"} and "src" not in attrs and not data_block
        if inline and (not nonce or attrs.get("nonce") != nonce.group(1)):
            problems.append(f"inline <{tag}> without the response's nonce")
    return problems


# The notices shown in the notification preview's sandboxed frames (e-mail as sent, letter as printed):
# their own inline styles apply, nothing else loads or runs, and only this site's pages frame them.
FRAMED_DOCUMENTS = {"disclosure:notification-email-html", "disclosure:notification-letter-html"}
FRAMED_POLICY = {
    "default-src": ["'none'"],
    "style-src": ["'unsafe-inline'"],
    "base-uri": ["'none'"],
    "form-action": ["'none'"],
    "frame-ancestors": ["'self'"],
    "sandbox": [],
}


def framed_document_problems(response) -> list[str]:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {name: values for name, *values in (part.split() for part in policy.split(";"))}
    problems = [] if directives == FRAMED_POLICY else [f"policy {policy!r}"]
    if response.get("X-Frame-Options") != "SAMEORIGIN":
        problems.append(f"X-Frame-Options {response.get('X-Frame-Options')!r}")
    parser = _Tags()
    parser.feed(response.content.decode())
    for tag, attrs in parser.tags:
        if tag in {"script", "iframe", "object", "embed", "base", "form"} or any(
            name.startswith("on") for name in attrs
        ):
            problems.append(f"<{tag}> in a framed document")
    return problems


def _html_pages(client, warrant):
    routes = routes_without_arguments() + routes_with_pk()
    for route in routes:
        if route.kwargs:
            try:
                url = route.url(pk_for(route, warrant))
            except (AssertionError, NoReverseMatch, LookupError):
                continue
        else:
            try:
                url = reverse(route.name)
            except NoReverseMatch:
                continue
        response = client.get(url, secure=True)
        if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
            yield url, response


@pytest.mark.parametrize("persona", ["legal_officer", "auditor"])
def test_every_page_carries_the_csp_and_every_inline_script_its_nonce(request, persona, warrant):
    client = client_for(request.getfixturevalue(persona))

    pages = dict(_html_pages(client, warrant))
    framed = {url: pages.pop(url) for url in list(pages) if resolve(url).view_name in FRAMED_DOCUMENTS}

    assert len(pages) >= 8, sorted(pages)  # the walk reached the app's pages
    assert reverse("requests_app:warrant-list") in pages or persona == "auditor"
    problems = {url: found for url, response in pages.items() if (found := csp_problems(response))}
    assert problems == {}
    # The case's officer reaches the framed notices (the exception is not dead), the auditor does not.
    assert {resolve(url).view_name for url in framed} == (FRAMED_DOCUMENTS if persona == "legal_officer" else set())
    framed_problems = {url: framed_document_problems(response) for url, response in framed.items()}
    assert framed_problems == {url: [] for url in framed}


def test_the_nonce_is_fresh_on_every_response(legal_officer):
    client = client_for(legal_officer)
    url = reverse("api-docs")  # a page with an inline <style>, so its policy carries the nonce

    first, second = (client.get(url).headers["Content-Security-Policy"] for _ in range(2))

    assert "'nonce-" in first and first != second


def test_the_base_layout_has_no_inline_script(legal_officer):
    page = client_for(legal_officer).get(reverse("requests_app:warrant-list"))

    assert csp_problems(page) == [] and "'nonce-" not in page["Content-Security-Policy"]
    assert b'src="/static/js/app.js"' in page.content


def test_the_login_page_and_the_error_pages_carry_the_policy_and_the_headers(db):
    client = Client()

    login = client.get(reverse("login"))
    missing = client.get("/no-such-page/")

    for response in (login, missing):
        assert csp_problems(response) == []
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = login["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_htmx_is_told_not_to_insert_its_own_style_element(legal_officer):
    page = client_for(legal_officer).get(reverse("requests_app:warrant-list")).content.decode()

    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page)

    assert config and '"includeIndicatorStyles": false' in config.group(1)


def test_the_server_error_page_has_no_inline_style(db, client, settings):
    from django.template.loader import render_to_string

    page = render_to_string("500.html")

    assert "<style" not in page and "css/error.css" in page
