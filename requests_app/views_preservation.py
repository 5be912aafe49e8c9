"""Preservation orders: the legal team records an agency's order on the warrant page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from warrantdesk.exceptions import DomainError
from warrantdesk.refusals import refused

from . import services
from .forms import PreservationOrderForm
from .shortcuts import warrant_or_404


@require_POST
def preservation_order_create(request: HttpRequest, pk: int) -> HttpResponse:
    warrant = warrant_or_404(request, pk)
    form = PreservationOrderForm(request.POST, request.FILES)
    if not form.is_valid():
        problems = [
            f"{form.fields[name].label}: {' '.join(str(error) for error in errors)}"
            for name, errors in form.errors.items()
        ]
        messages.error(
            request, _("The preservation order was not recorded. %(problems)s") % {"problems": " ".join(problems)}
        )
        return redirect(warrant)
    try:
        order = services.preservation_order_record(
            warrant=warrant,
            actor=request.user,
            upload=form.cleaned_data["file"],
            until=form.until_end(),
            note=form.cleaned_data["note"],
        )
    except (DomainError, PermissionDenied) as refusal:
        refused(request, refusal)
    else:
        messages.success(
            request,
            _("Preservation order recorded: the warrant's keys are kept until %(date)s.")
            % {"date": f"{order.until:%Y-%m-%d}"},
        )
    return redirect(warrant)
