"""Background work of disclosures (Django tasks; `manage.py db_worker` runs them)."""

from django.contrib.auth import get_user_model
from django.tasks import task

from requests_app.models import FollowUpRequest

from . import services
from .models import Export
from .notifications import notifications_send_due


@task()
def run_export(export_id: int) -> str:
    """Build and publish one export. Safe to run again: a ready export is left as it is, and a
    partly written package is never published."""
    export = Export.objects.select_related("warrant").get(pk=export_id)
    return services.export_run(export=export).status


@task()
def run_identity_sheet(follow_up_id: int, actor_id: int) -> str:
    """Build the identity sheet of a decided follow-up request (idempotent: one sheet per request)."""
    follow_up = FollowUpRequest.objects.select_related("warrant").get(pk=follow_up_id)
    export = services.identity_sheet_start(follow_up=follow_up, actor=get_user_model().objects.get(pk=actor_id))
    return services.export_run(export=export).status


@task()
def send_due_notifications(batch: int = 0) -> str:
    """Send the user notices due now (also ``manage.py send_notifications``, run from cron). A notice
    left unconfirmed by a crash is never sent again by this task: see disclosure/notifications/sender.py."""
    return str(notifications_send_due(batch=batch or None))
