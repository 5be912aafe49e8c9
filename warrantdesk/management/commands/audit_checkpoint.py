from django.core.management.base import BaseCommand, CommandError

from warrantdesk import checkpoints
from warrantdesk.exceptions import DomainError


class Command(BaseCommand):
    help = "Bring the audit Merkle tree up to date and sign a checkpoint of it now; prints the signed note."

    def handle(self, *args, **options):
        try:
            checkpoint = checkpoints.checkpoint_create(created_by="command")
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if checkpoint is None:
            raise CommandError("the audit log is empty: nothing to sign")
        self.stdout.write(checkpoint.note, ending="")
