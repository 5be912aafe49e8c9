"""What other apps add to the pages of this one, without this app importing them.

``disclosure`` adds panels to the warrant page (scope preview, export package, follow-up requests,
user notices) and the count of overdue user notices to the warrant list. It registers providers here
in its ``AppConfig.ready``; the views of ``requests_app`` ask them. Dependencies keep pointing one
way (disclosure -> requests_app), and a page with no provider registered still renders.

A panel is one template and its context. The warrant page renders every panel in the order the
providers were registered (``{% render_panel panel %}``); the app that owns a panel renders the same
template with the same context when htmx polls the panel alone, so a panel is built one way only.
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


WarrantPanelProvider = Callable[[HttpRequest, Warrant], Panel | None]
WarrantListProvider = Callable[[HttpRequest], dict[str, Any]]

_warrant_panels: list[WarrantPanelProvider] = []
_warrant_list: list[WarrantListProvider] = []


def register_warrant_panel(provider: WarrantPanelProvider) -> None:
    """Add ``provider(request, warrant) -> Panel | None`` to every warrant page (idempotent); None
    leaves the panel out of that page."""
    if provider not in _warrant_panels:
        _warrant_panels.append(provider)


def register_warrant_list(provider: WarrantListProvider) -> None:
    """Add ``provider(request) -> context`` to the warrant list (idempotent)."""
    if provider not in _warrant_list:
        _warrant_list.append(provider)


def warrant_panels(request: HttpRequest, warrant: Warrant) -> list[Panel]:
    """The panels the registered providers add to the page of ``warrant``, in registration order."""
    return [panel for provider in _warrant_panels if (panel := provider(request, warrant)) is not None]


def warrant_list_context(request: HttpRequest) -> dict[str, Any]:
    """The context every registered provider adds to the warrant list."""
    context: dict[str, Any] = {}
    for provider in _warrant_list:
        context.update(provider(request))
    return context
