"""Background work of the warrant workflow (Django tasks; `manage.py db_worker` runs them)."""

from django.contrib.auth import get_user_model
from django.tasks import task

from . import services
from .models import Document


@task()
def check_document_signature(document_id: int, actor_id: int | None = None) -> str:
    """Verify one document's signature and record the verdict. Safe to run again: each run adds
    one check row and moves the warrant only if its state still calls for it."""
    document = Document.objects.select_related("warrant__agency").get(pk=document_id)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return services.document_check_signature(document=document, actor=actor).outcome
