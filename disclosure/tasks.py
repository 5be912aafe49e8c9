"""Background work of disclosures (Django tasks; `manage.py db_worker` runs them)."""

from django.tasks import task

from .models import Export


@task()
def run_export(export_id: int) -> str:
    """Build and publish one export. Safe to run again: a ready export is left as it is, and a
    partly written package is never published."""
    from .services import export_run

    export = Export.objects.select_related("warrant").get(pk=export_id)
    return export_run(export=export).status
