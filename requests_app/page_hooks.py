"""What other apps add to the pages of this one, without this app importing them.

``disclosure`` builds parts of the warrant page (the export panel) and of the warrant list (the count
of overdue user notices). It registers a context provider here in its ``AppConfig.ready``; the views
of ``requests_app`` merge what the providers return. Dependencies keep pointing one way
(disclosure -> requests_app), and a page with no provider registered still renders.
"""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from .models import Warrant

WarrantPageProvider = Callable[[HttpRequest, Warrant], dict[str, Any]]
WarrantListProvider = Callable[[HttpRequest], dict[str, Any]]

_warrant_page: list[WarrantPageProvider] = []
_warrant_list: list[WarrantListProvider] = []


def register_warrant_page(provider: WarrantPageProvider) -> None:
    """Add ``provider(request, warrant) -> context`` to every warrant page (idempotent)."""
    if provider not in _warrant_page:
        _warrant_page.append(provider)


def register_warrant_list(provider: WarrantListProvider) -> None:
    """Add ``provider(request) -> context`` to the warrant list (idempotent)."""
    if provider not in _warrant_list:
        _warrant_list.append(provider)


def warrant_page_context(request: HttpRequest, warrant: Warrant) -> dict[str, Any]:
    """The context every registered provider adds to the page of ``warrant``."""
    context: dict[str, Any] = {}
    for provider in _warrant_page:
        context.update(provider(request, warrant))
    return context


def warrant_list_context(request: HttpRequest) -> dict[str, Any]:
    """The context every registered provider adds to the warrant list."""
    context: dict[str, Any] = {}
    for provider in _warrant_list:
        context.update(provider(request))
    return context
