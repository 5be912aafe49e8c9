"""What other apps add to the follow-up form, without this app importing them.

``demo`` offers a signed sample follow-up request on the form of a delivered warrant (demo mode
only): it registers a ``FollowUpFormSample`` provider here in its ``AppConfig.ready``, and the form
shows what the provider returns, links included. Dependencies keep pointing one way
(demo -> disclosure), and with no provider registered the form offers no sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from requests_app.models import Warrant

from .aliases import Alias


@dataclass(frozen=True)
class FollowUpFormSample:
    """A sample follow-up request the form offers: where to download the document, the link that
    fills the form in as it reads, and that filling: the form's ``initial`` data and the pseudonyms
    it picks with their justifications (``initial_picks``, ``{token: reason}``)."""

    download_url: str
    fill_url: str
    initial: dict[str, Any] = field(default_factory=dict)
    initial_picks: dict[str, str] = field(default_factory=dict)


FollowUpFormSampleProvider = Callable[[HttpRequest, Warrant, Sequence[Alias]], FollowUpFormSample | None]

_form_samples: list[FollowUpFormSampleProvider] = []


def register_followup_form_sample(provider: FollowUpFormSampleProvider) -> None:
    """Let ``provider(request, warrant, aliases) -> FollowUpFormSample | None`` offer a sample on the
    follow-up form of ``warrant``, whose delivered export has ``aliases`` (idempotent); None offers
    nothing on that request."""
    if provider not in _form_samples:
        _form_samples.append(provider)


def followup_form_sample(request: HttpRequest, warrant: Warrant, aliases: Sequence[Alias]) -> FollowUpFormSample | None:
    """The sample the first registered provider offers on the follow-up form of ``warrant``, or None."""
    for provider in _form_samples:
        if (sample := provider(request, warrant, aliases)) is not None:
            return sample
    return None
