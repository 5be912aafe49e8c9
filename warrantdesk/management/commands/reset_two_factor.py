"""`manage.py reset_two_factor USERNAME`: delete the user's second-factor devices (authenticator app and
recovery codes), audited; the user sets two-factor sign-in up again at the next sign-in. The same as the
admin's "Reset two-factor sign-in" action, for an administrator who has lost their own phone."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from warrantdesk.two_factor import second_factor_reset


class Command(BaseCommand):
    help = "Reset a user's two-factor sign-in (audited); the user enrols again at the next sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        deleted = second_factor_reset(user=user, actor=None)
        self.stdout.write(f"two-factor sign-in reset for {username} ({deleted} device(s) deleted)")
