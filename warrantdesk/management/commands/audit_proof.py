import json

from django.core.management.base import BaseCommand, CommandError

from warrantdesk import checkpoints
from warrantdesk.exceptions import DomainError
from warrantdesk.models import Checkpoint


class Command(BaseCommand):
    help = (
        "Print a proof as JSON, for verify_checkpoint.py: 'inclusion SIZE ENTRY' (audit entry #ENTRY is in the "
        "checkpoint of SIZE entries) or 'consistency OLD NEW' (checkpoint OLD is a prefix of checkpoint NEW)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["inclusion", "consistency"])
        parser.add_argument("first", type=int, help="inclusion: checkpoint size; consistency: the older size")
        parser.add_argument("second", type=int, help="inclusion: entry number (seq); consistency: the newer size")

    def handle(self, *args, kind, first, second, **options):
        try:
            if kind == "inclusion":
                proof = checkpoints.inclusion(checkpoint=_checkpoint(first), seq=second)
            else:
                proof = checkpoints.consistency(old=_checkpoint(first), new=_checkpoint(second))
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(proof, indent=2))


def _checkpoint(size: int) -> Checkpoint:
    checkpoint = Checkpoint.objects.filter(tree_size=size).first()
    if checkpoint is None:
        sizes = ", ".join(str(s) for s in Checkpoint.objects.values_list("tree_size", flat=True)[:20])
        raise CommandError(f"no checkpoint of {size} entries (signed sizes: {sizes or 'none'})")
    return checkpoint
