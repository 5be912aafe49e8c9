"""Send the user notices that are due: run it every few minutes (cron, systemd timer)."""

from django.core.management.base import BaseCommand

from disclosure.notifications import notifications_send_due


class Command(BaseCommand):
    help = "Send the disclosure notices that are due (at most once each; see disclosure/notifications.py)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=0, help="notices per SMTP connection (default: setting)")

    def handle(self, *args, batch: int = 0, **options):
        result = notifications_send_due(batch=batch or None)
        self.stdout.write(str(result))
