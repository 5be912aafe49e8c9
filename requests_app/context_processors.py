"""The status enums of this app's models, for templates: ``{% if warrant.status == WarrantStatus.CLOSED %}``
instead of a string literal (``TextChoices`` are not called in templates)."""

from django.http import HttpRequest

from .models import FollowUpRequest, FollowUpToken
from .workflow import Status


def statuses(request: HttpRequest) -> dict:
    return {
        "WarrantStatus": Status,
        "FollowUpStatus": FollowUpRequest.Status,
        "FollowUpDecision": FollowUpToken.Decision,
    }
