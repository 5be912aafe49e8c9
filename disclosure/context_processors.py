"""The status enums of this app's models, for templates: ``{% if export.status == ExportStatus.READY %}``
instead of a string literal (``TextChoices`` are not called in templates)."""

from django.http import HttpRequest

from .models import Export, Notification


def statuses(request: HttpRequest) -> dict:
    return {"ExportStatus": Export.Status, "NotificationStatus": Notification.Status}
