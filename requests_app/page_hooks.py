"""What other apps add to the pages of this one, without this app importing them.

``disclosure`` adds panels to the warrant page (scope preview, export package, follow-up requests,
user notices) and the count of overdue user notices to the warrant list. It registers providers here
in its ``AppConfig.ready``; the views of ``requests_app`` ask them. Dependencies keep pointing one
way (disclosure -> requests_app), and a page with no provider registered still renders.

A panel is one template and its context. The warrant page renders every panel in the order the
providers were registered (``{% render_panel panel %}``); the app that owns a panel renders the same
template with the same context when htmx polls the panel alone, so a panel is built one way only.

``demo`` offers a signed sample warrant on the "Log a warrant" page (demo mode only): it registers a
``WarrantFormSample`` provider here, and the page shows what the provider returns, links included,
so that neither this app nor its templates name the demo app or its URLs.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from .models import Warrant


@dataclass(frozen=True)
class Panel:
    """One panel of the warrant page: ``template`` rendered with ``context``."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)

    def render(self, request: HttpRequest) -> SafeString:
        return render_to_string(self.template, self.context, request=request)


@dataclass(frozen=True)
class WarrantFormSample:
    """A sample warrant the "Log a warrant" page offers: the issuing agency's name, where to download
    the document, the link that fills the form in as it reads, and ``initial``, the form's data when
    the page was asked to fill it in (else None)."""

    agency_name: str
    download_url: str
    fill_url: str
    initial: dict[str, Any] | None = None


WarrantPanelProvider = Callable[[HttpRequest, Warrant], Panel | None]
WarrantListProvider = Callable[[HttpRequest], dict[str, Any]]
WarrantFormSampleProvider = Callable[[HttpRequest], WarrantFormSample | None]

_warrant_panels: list[WarrantPanelProvider] = []
_warrant_list: list[WarrantListProvider] = []
_warrant_form_samples: list[WarrantFormSampleProvider] = []


def register_warrant_panel(provider: WarrantPanelProvider) -> None:
    """Add ``provider(request, warrant) -> Panel | None`` to every warrant page (idempotent); None
    leaves the panel out of that page."""
    if provider not in _warrant_panels:
        _warrant_panels.append(provider)


def register_warrant_list(provider: WarrantListProvider) -> None:
    """Add ``provider(request) -> context`` to the warrant list (idempotent)."""
    if provider not in _warrant_list:
        _warrant_list.append(provider)


def register_warrant_form_sample(provider: WarrantFormSampleProvider) -> None:
    """Let ``provider(request) -> WarrantFormSample | None`` offer a sample on the "Log a warrant"
    page (idempotent); None offers nothing on that request."""
    if provider not in _warrant_form_samples:
        _warrant_form_samples.append(provider)


def warrant_panels(request: HttpRequest, warrant: Warrant) -> list[Panel]:
    """The panels the registered providers add to the page of ``warrant``, in registration order."""
    return [panel for provider in _warrant_panels if (panel := provider(request, warrant)) is not None]


def warrant_list_context(request: HttpRequest) -> dict[str, Any]:
    """The context every registered provider adds to the warrant list."""
    context: dict[str, Any] = {}
    for provider in _warrant_list:
        context.update(provider(request))
    return context


def warrant_form_sample(request: HttpRequest) -> WarrantFormSample | None:
    """The sample the first registered provider offers on the "Log a warrant" page, or None."""
    for provider in _warrant_form_samples:
        if (sample := provider(request)) is not None:
            return sample
    return None
