from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from requests_app.views import _warrant_or_404

from .scope import warrant_scope


@require_GET
def warrant_scope_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The scope preview of a warrant, loaded into its page after the page itself."""
    warrant = _warrant_or_404(request, pk)
    scope = warrant_scope(warrant)
    return render(
        request,
        "disclosure/_scope_panel.html",
        {
            "warrant": warrant,
            "scope": scope,
            "participant_count": len(scope.participant_ids),
            "non_target_count": len(scope.non_target_ids),
        },
    )
