"""``manage.py task_worker``: django-tasks-db's ``db_worker`` that first takes back what it held when it died.

``db_worker`` marks a task RUNNING under its worker id when it takes it, and nothing ever looks at that
row again if the process is killed (SIGKILL, OOM, power loss): the task stays RUNNING and never runs.
A worker started under a stable ``--worker-id`` (the systemd unit gives ``%H-%i``: host and instance,
one process at a time) knows that any task still RUNNING under its own id belongs to its dead
predecessor: it puts those back to READY before taking work, and they run again. Every task body is
written to be run again (exports and identity sheets resume from their state rows, the notification
sender never resends a claimed notice, the purge re-reads what is left). See docs/design-notes.md.

Without ``--worker-id`` the id is random and nothing can be taken back: a warning says so.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Command as DBWorkerCommand
from django_tasks_db.models import DBTaskResult

from warrantdesk.scratch import scratch_sweep

logger = logging.getLogger("warrantdesk.tasks")


def tasks_take_back(worker_id: str) -> list[str]:
    """Put the tasks left RUNNING by a dead worker of this id back to READY; their ids."""
    with transaction.atomic():
        running = DBTaskResult.objects.select_for_update().filter(status="RUNNING")
        orphans = [task for task in running if task.worker_ids and task.worker_ids[-1] == worker_id]
        for task in orphans:
            task.status = "READY"
            task.started_at = None
            task.save(update_fields=["status", "started_at"])
    for task in orphans:
        logger.warning(
            "task %s (%s) left running by a dead worker %s: queued again", task.pk, task.task_path, worker_id
        )
    return [str(task.pk) for task in orphans]


class Command(DBWorkerCommand):
    help = "db_worker, first re-queueing the tasks a dead worker of the same --worker-id left running."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(worker_id=None)  # db_worker's default is a random id: tell "not given" apart

    def handle(self, *args, **options):
        self.configure_logging(options["verbosity"])
        for name in scratch_sweep():  # plaintext a killed worker on this machine left behind
            logger.warning("removed the scratch directory %s of a dead process", name)
        if options["worker_id"] is None:
            logger.warning("task_worker without --worker-id: tasks of a killed worker cannot be taken back")
            options["worker_id"] = get_random_string(32)
        else:
            tasks_take_back(options["worker_id"])
        return super().handle(*args, **options)
