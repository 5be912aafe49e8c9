"""Demo mode (``WARRANTDESK_DEMO``): the signed sample documents to download, and what the "Log a
warrant" page and the follow-up form offer of them (registered as their hooks in ``DemoConfig.ready``).
Demo mode off, the downloads are 404 and the forms offer nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from disclosure.followups.aliases import Alias, delivered_aliases
from disclosure.followups.hooks import FollowUpFormSample
from disclosure.followups.services import followup_log_refusal
from requests_app.models import Warrant
from requests_app.page_hooks import WarrantFormSample
from requests_app.shortcuts import warrant_or_404

from . import samples


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- the sample warrant ------------------------------------------------------------------------------


def warrant_form_sample(request: HttpRequest) -> WarrantFormSample | None:
    """What the "Log a warrant" page offers (a requests_app.page_hooks provider): the sample warrant
    ``?sample=`` (a new one when none is named), and the form filled in as it reads when ``?sample=``
    is given."""
    sample = samples.sample_warrant(request.GET.get("sample", "")) if samples.enabled() else None
    if sample is None:
        return None
    return WarrantFormSample(
        agency_name=sample.agency.name,
        download_url=f"{reverse('demo:sample-warrant')}?{urlencode({'number': sample.number})}",
        fill_url=f"{reverse('requests_app:warrant-create')}?{urlencode({'sample': sample.number})}",
        initial=sample.initial() if "sample" in request.GET else None,
    )


@require_GET
def sample_warrant_pdf(request: HttpRequest) -> HttpResponse:
    """Demo mode only: the sample warrant ``?number=``, signed now by the demo agency's chief investigator."""
    sample = samples.sample_warrant(request.GET.get("number", "")) if samples.enabled() else None
    if sample is None or not request.user.has_perm("requests_app.add_warrant"):
        raise Http404("No such page.")
    return _pdf(sample.pdf(), f"sample-warrant-{sample.number}.pdf")


# --- the sample follow-up request --------------------------------------------------------------------


def followup_form_sample(request: HttpRequest, warrant: Warrant, aliases: Sequence[Alias]) -> FollowUpFormSample | None:
    """What the follow-up form of ``warrant`` offers (a disclosure.followups.hooks provider): a signed
    sample request naming pseudonyms of its delivered export, and the form filled in as it reads."""
    if not samples.enabled() or not aliases:
        return None
    now = timezone.localtime().replace(second=0, microsecond=0)
    return FollowUpFormSample(
        download_url=f"{reverse('demo:sample-request')}?{urlencode({'warrant': warrant.pk})}",
        fill_url=f"{reverse('followups:create', args=[warrant.pk])}?sample=1",
        initial={"received_at": now, "deadline": now + dt.timedelta(days=7)},
        initial_picks=samples.sample_followup_picks(aliases),
    )


@require_GET
def sample_followup_pdf(request: HttpRequest) -> HttpResponse:
    """Demo mode only: a follow-up request for the warrant ``?warrant=<id>`` naming pseudonyms of its
    delivered export, signed now by the agency's chief investigator (for whoever may log one there)."""
    if not samples.enabled():
        raise Http404("No such page.")
    warrant = warrant_or_404(request, request.GET.get("warrant", ""))
    pdf = None
    if not followup_log_refusal(request.user, warrant):
        pdf = samples.sample_followup_pdf(warrant, delivered_aliases(warrant))
    if pdf is None:
        raise Http404("No such page.")
    return _pdf(pdf, f"sample-follow-up-{warrant.reference}.pdf")
